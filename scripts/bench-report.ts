/**
 * The bench's verdicts: medians and spreads of every contender, each target of issue 10
 * with its ratio and PASS/MISS, as console text, Markdown and JSON.
 */
import { median, spread } from './bench-tools.js';

export interface ContenderResult {
  readonly id: string;
  readonly label: string;
  readonly count: number;
  readonly rps: readonly number[];
  readonly p50Ms: readonly number[];
  readonly p99Ms: readonly number[];
  readonly failures: number;
  readonly redisPerMillionIds: number | undefined;
  /** The server's CPU time per request, µs, one per round (single-process servers). */
  readonly cpuUsPerRequest?: readonly number[];
  /**
   * The contender's base (the `base` of a target `id ≥ k × base`), measured right next to
   * each of its rounds (req/s, one per round): the target's ratio compares these pairs.
   */
  readonly pairedWith?: {
    readonly base: string;
    readonly rps: readonly number[];
    readonly cpuUsPerRequest?: readonly number[];
  };
}

/** An in-process contender: IDs per second, one sample per round. */
export interface Measured {
  readonly id: string;
  readonly samples: readonly number[];
}

export interface Target {
  readonly name: string;
  readonly value: string;
  readonly ratio: number;
  /** The ratio must be at least (`min`) or at most (`max`) this. */
  readonly bound: { readonly min: number } | { readonly max: number };
  readonly pass: boolean;
}

/** The layout limit of a default snowflake worker: 4 096 IDs per millisecond. */
const SNOWFLAKE_LIMIT = 4_096_000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (f: number) => `±${(f * 50).toFixed(0)} %`;

function target(
  name: string,
  value: string,
  ratio: number,
  bound: { min: number } | { max: number },
): Target {
  const pass = 'min' in bound ? ratio >= bound.min : ratio <= bound.max;
  return { name, value, ratio, bound, pass };
}

/**
 * @param shaped the contenders of shaped tags (`C-<shape>`, bench.ts SHAPED), each held
 *   to within 5 % of C
 */
export function report(
  machine: Record<string, unknown>,
  results: readonly ContenderResult[],
  inProcess: readonly Measured[],
  shaped: readonly string[] = [],
  partial = false,
): { text: string; markdown: string; json: unknown } {
  const by = new Map(results.map((r) => [r.id, r]));
  const rps = (id: string) => median(by.get(id)?.rps ?? [NaN]);
  const p50 = (id: string) => median(by.get(id)?.p50Ms ?? [NaN]);
  const p99 = (id: string) => median(by.get(id)?.p99Ms ?? [NaN]);
  const inp = (id: string) => median(inProcess.find((m) => m.id === id)?.samples ?? [NaN]);

  const series = (id: string, key: 'rps' | 'p50Ms' | 'p99Ms') => by.get(id)?.[key] ?? [NaN];
  const samples = (id: string) => inProcess.find((m) => m.id === id)?.samples ?? [NaN];
  /**
   * The median over rounds of x / y, each round's pair measured minutes apart at most:
   * on a shared machine the load drifts between rounds, and a ratio of two medians taken
   * in different rounds would compare different machines.
   */
  const paired = (x: readonly number[], y: readonly number[]) =>
    median(x.map((v, i) => v / (y[i] ?? NaN)));
  /** x ÷ y by round; for req/s from runs made back to back where x was paired with y. */
  const ratioOf = (x: string, y: string, key: 'rps' | 'p50Ms' | 'p99Ms' = 'rps') => {
    const twin = by.get(x)?.pairedWith;
    return key === 'rps' && twin?.base === y
      ? paired(series(x, key), twin.rps)
      : paired(series(x, key), series(y, key));
  };

  const all: Target[] = [
    target('C ≥ 0.9 × A', `${fmt(rps('C'))} vs ${fmt(rps('A'))} req/s`, ratioOf('C', 'A'), {
      min: 0.9,
    }),
    target(
      'C ≥ 0.9 × A at 128 connections',
      `${fmt(rps('C128'))} vs ${fmt(rps('A128'))} req/s`,
      ratioOf('C128', 'A128'),
      { min: 0.9 },
    ),
    ...shaped.map((id) =>
      target(`${id} ≥ 0.95 × C`, `${fmt(rps(id))} vs ${fmt(rps('C'))} req/s`, ratioOf(id, 'C'), {
        min: 0.95,
      }),
    ),
    target('C ≥ 1.5 × F', `${fmt(rps('C'))} vs ${fmt(rps('F'))} req/s`, ratioOf('C', 'F'), {
      min: 1.5,
    }),
    target(
      'D count=1000 ≥ 10 M IDs/s',
      `${fmt(rps('D1000') * 1000)} IDs/s`,
      (rps('D1000') * 1000) / 10e6,
      { min: 1 },
    ),
    target(
      'WORKERS=2 ≥ 1.6 × WORKERS=1',
      `${fmt(rps('W2'))} vs ${fmt(rps('W1'))} req/s`,
      ratioOf('W2', 'W1'),
      { min: 1.6 },
    ),
    target(
      'IdClient warm next() ≥ 10 M IDs/s',
      `${fmt(inp('client'))} IDs/s`,
      inp('client') / 10e6,
      { min: 1 },
    ),
    target(
      'allocator sync next() ≥ 0.7 × floor',
      `${fmt(inp('sync'))} vs ${fmt(inp('floor'))} IDs/s`,
      paired(samples('sync'), samples('floor')),
      { min: 0.7 },
    ),
    target(
      'snowflake direct ≥ 0.95 × limit',
      `${fmt(inp('snowflake'))} vs ${fmt(SNOWFLAKE_LIMIT)} IDs/s`,
      inp('snowflake') / SNOWFLAKE_LIMIT,
      { min: 0.95 },
    ),
    target(
      'C p50 with the 1 ms proxy ≤ 1.1 × direct',
      `${p50('C-proxy').toFixed(3)} vs ${p50('C').toFixed(3)} ms`,
      ratioOf('C-proxy', 'C', 'p50Ms'),
      { max: 1.1 },
    ),
    target(
      'p99 step 100 ≤ 2 × p99 step 10^6',
      `${p99('C-step100').toFixed(3)} vs ${p99('C').toFixed(3)} ms`,
      ratioOf('C-step100', 'C', 'p99Ms'),
      { max: 2 },
    ),
  ];
  // A run of some contenders (--only) reports the targets it measured, and no others.
  const targets = partial ? all.filter((t) => !Number.isNaN(t.ratio)) : all;
  // The same pairs by CPU time per request: base ÷ contender, so that, as for req/s,
  // above 1 means the contender costs less; the range is the rounds' lowest and highest.
  const cpuPairs = results.flatMap((r) => {
    const mine = r.cpuUsPerRequest;
    const theirs = r.pairedWith?.cpuUsPerRequest;
    if (!mine || !theirs) return [];
    const ratios = mine.map((us, i) => (theirs[i] ?? NaN) / us);
    const [lo, hi] = [Math.min(...ratios), Math.max(...ratios)];
    return [
      `${r.id} ÷ ${r.pairedWith!.base} ${median(ratios).toFixed(3)} (${lo.toFixed(2)}–${hi.toFixed(2)}; ${median(mine).toFixed(1)} vs ${median(theirs).toFixed(1)} µs)`,
    ];
  });
  const notes = [
    ...(cpuPairs.length > 0
      ? [
          `by CPU time per request (the server's user + system time over the requests wrk counted; where these track the req/s ratios, the pinned server was busy all along and its req/s measure its own cost, not a wait for wrk or Redis): ${cpuPairs.join(', ')}`,
        ]
      : []),
    'ratios are medians over rounds of each round\'s own ratio (the load drifts between rounds); "measured" shows the medians of each side',
    ...(results.some((r) => r.pairedWith)
      ? [
          `back to back: ${results
            .filter((r) => r.pairedWith)
            .map((r) => `${r.id} ÷ ${r.pairedWith!.base}`)
            .join(
              ', ',
            )} compare each round's run with a run of the base made right before or after it (the order alternating by round)`,
        ]
      : []),
    ...(partial && (!by.has('F') || !by.has('F-proxy'))
      ? [
          `a run of ${results.map((r) => r.id).join(', ')} only (--only): the other targets were not measured`,
        ]
      : [
          `F's p50 with the proxy: ${p50('F-proxy').toFixed(3)} vs ${p50('F').toFixed(3)} ms direct (× ${ratioOf('F-proxy', 'F', 'p50Ms').toFixed(1)})`,
        ]),
  ];

  const head =
    '| contender | req/s (median) | spread | IDs/s | p50 ms | p99 ms | ÷ A (paired; …128 ÷ A128) | CPU µs per request | Redis cmds per M IDs |';
  const rows = results.map((r) => {
    const m = median(r.rps);
    const redis =
      r.redisPerMillionIds === undefined
        ? ''
        : r.redisPerMillionIds.toFixed(r.redisPerMillionIds < 10 ? 2 : 0);
    const failed = r.failures ? ` (${r.failures} failed)` : '';
    // The 128-connection contenders are compared with A at the same load.
    const base = r.id.endsWith('128') ? 'A128' : 'A';
    const cpu = r.cpuUsPerRequest ? median(r.cpuUsPerRequest).toFixed(1) : '';
    return `| ${r.id} ${r.label}${failed} | ${fmt(m)} | ${pct(spread(r.rps))} | ${fmt(m * r.count)} | ${median(r.p50Ms).toFixed(3)} | ${median(r.p99Ms).toFixed(3)} | ${ratioOf(r.id, base).toFixed(2)} | ${cpu} | ${redis} |`;
  });
  const inRows = inProcess.map(
    (m) => `| ${m.id} | ${fmt(median(m.samples))} | ${pct(spread(m.samples))} |`,
  );
  const bound = (t: Target) => ('min' in t.bound ? `≥ ${t.bound.min}` : `≤ ${t.bound.max}`);
  const tRows = targets.map(
    (t) =>
      `| ${t.name} | ${t.value} | ${t.ratio.toFixed(3)} | ${bound(t)} | ${t.pass ? 'PASS' : '**MISS**'} |`,
  );
  const markdown = [
    `# idalloc bench, ${String(machine.date)}`,
    '',
    Object.entries(machine)
      .map(([k, v]) => `- ${k}: ${String(v)}`)
      .join('\n'),
    '',
    head,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '| in-process | IDs/s (median) | spread |',
    '|---|---|---|',
    ...inRows,
    '',
    '| target | measured | ratio | needs | verdict |',
    '|---|---|---|---|---|',
    ...tRows,
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');

  const text = [
    ...results.map(
      (r) =>
        `${r.id.padEnd(10)} ${fmt(median(r.rps)).padStart(9)} req/s ${pct(spread(r.rps)).padStart(6)}${r.cpuUsPerRequest ? `  ${median(r.cpuUsPerRequest).toFixed(1)} µs CPU` : ''}  p50 ${median(r.p50Ms).toFixed(3)} ms  p99 ${median(r.p99Ms).toFixed(3)} ms${r.redisPerMillionIds === undefined ? '' : `  Redis ${r.redisPerMillionIds.toFixed(2)} cmds/M IDs`}${r.failures ? `  ${r.failures} FAILED` : ''}`,
    ),
    ...inProcess.map(
      (m) =>
        `${m.id.padEnd(10)} ${fmt(median(m.samples)).padStart(12)} IDs/s ${pct(spread(m.samples))}`,
    ),
    '',
    ...targets.map(
      (t) =>
        `${t.pass ? 'PASS' : 'MISS'}  ${t.name.padEnd(42)} ratio ${t.ratio.toFixed(3)} (${bound(t)})  ${t.value}`,
    ),
    ...notes,
  ].join('\n');
  return { text, markdown, json: { machine, results, inProcess, targets, notes } };
}
