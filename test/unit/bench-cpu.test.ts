/**
 * The bench's CPU time per request (scripts/bench-tools.ts, scripts/bench-report.ts): read
 * from /proc for a process, and reported for each paired target beside its req/s ratio.
 */
import { describe, expect, it } from 'vitest';
import { cpuMicros, parseWrk } from '../../scripts/bench-tools.js';
import { report, type ContenderResult } from '../../scripts/bench-report.js';

describe('the bench: CPU time per request', () => {
  it("reads a process's user + system time from /proc, rising as it works", () => {
    const before = cpuMicros(process.pid)!;
    const cpu = process.cpuUsage();
    let x = 0;
    for (const end = Date.now() + 200; Date.now() < end;) x += Math.sqrt(x + 1);
    const spent = process.cpuUsage(cpu);
    const after = cpuMicros(process.pid)!;
    expect(x).toBeGreaterThan(0);
    // /proc counts in clock ticks (10 ms): within two ticks of what Node itself says.
    expect(after - before).toBeGreaterThanOrEqual(spent.user + spent.system - 20_000);
    expect(cpuMicros(2 ** 30)).toBeUndefined(); // no such process
  });

  it('reports each pair by CPU time per request: base ÷ contender, median and range', () => {
    const run = (id: string, rps: number[], cpu: number[], twin?: [number[], number[]]) =>
      ({
        id,
        label: id,
        count: 1,
        rps,
        p50Ms: [1, 1, 1],
        p99Ms: [2, 2, 2],
        failures: 0,
        redisPerMillionIds: undefined,
        cpuUsPerRequest: cpu,
        ...(twin ? { pairedWith: { base: 'A', rps: twin[0], cpuUsPerRequest: twin[1] } } : {}),
      }) satisfies ContenderResult;
    const results = [
      run('A', [100, 100, 100], [20, 20, 20]),
      // C costs 25, 20 and 22 µs next to A's 20, 20 and 22: ratios 0.8, 1 and 1.
      run(
        'C',
        [80, 100, 90],
        [25, 20, 22],
        [
          [100, 100, 100],
          [20, 20, 22],
        ],
      ),
    ];
    const { text, markdown } = report({ date: 'now' }, results, [], [], true);
    expect(text).toContain('C ÷ A 1.000 (0.80–1.00; 22.0 vs 20.0 µs)');
    expect(text).toMatch(/^C\s+90 req\/s\s+±11 %\s+22\.0 µs CPU/m);
    expect(markdown).toContain('| CPU µs per request |');
  });

  it('reads a wrk report without CPU time (the server measured by the caller)', () => {
    const out = [
      'Running 1s test @ http://127.0.0.1:1/v1/ids/bench',
      '  Latency Distribution',
      '     50%  800.00us',
      '     99%    3.00ms',
      '  30000 requests in 1.00s, 6.00MB read',
      'Requests/sec:  30000.00',
    ].join('\n');
    expect(parseWrk(out)).toEqual({
      rps: 30000,
      requests: 30000,
      p50Ms: 0.8,
      p99Ms: 3,
      failures: 0,
    });
  });
});
