/**
 * The alert rules (deploy/prometheus/alerts.yml) against their unit tests
 * (alerts.test.yml): `promtool check rules` and `promtool test rules` pass, and every alert
 * has a test that sees it fire (exp_alerts with labels) and one that sees it resolved
 * (exp_alerts: []), so an alert cannot be added, or its expression broken, unseen.
 *
 * promtool is the Debian package prometheus (`.ci/run` installs it): required when
 * CI=true, otherwise its two checks are skipped with the reason. The coverage check is
 * plain text (no YAML parser among the dependencies): both files keep one key a line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const read = (file: string) => readFileSync(`${DIR}${file}`, 'utf8');
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
const needsPromtool = hasPromtool || process.env.CI === 'true';

function promtool(...args: string[]) {
  expect(hasPromtool, 'promtool is missing: install the Debian package prometheus').toBe(true);
  return spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
}

/** Per alert name, whether a test expects it firing and whether one expects it resolved. */
function coverage(testYaml: string): Map<string, { fires: boolean; resolves: boolean }> {
  const seen = new Map<string, { fires: boolean; resolves: boolean }>();
  const steps = testYaml.split(/^\s*- eval_time:/m).slice(1);
  for (const step of steps) {
    const name = /^\s*alertname:\s*(\S+)\s*$/m.exec(step)?.[1];
    if (!name) continue;
    const entry = seen.get(name) ?? { fires: false, resolves: false };
    if (/^\s*exp_alerts:\s*\[\]\s*$/m.test(step)) entry.resolves = true;
    else if (/^\s*exp_alerts:\s*$/m.test(step) && /^\s*- exp_labels:/m.test(step)) {
      entry.fires = true;
    }
    seen.set(name, entry);
  }
  return seen;
}

describe('the alert rules', () => {
  const alerts = [...read('alerts.yml').matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((m) => m[1]!);

  it('are many and uniquely named', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(17);
    expect(new Set(alerts).size).toBe(alerts.length);
  });

  it('each have a test that sees them fire and one that sees them resolved', () => {
    const seen = coverage(read('alerts.test.yml'));
    const missing = alerts.flatMap((a) => {
      const c = seen.get(a);
      return [
        ...(c?.fires ? [] : [`${a} never expected firing`]),
        ...(c?.resolves ? [] : [`${a} never expected resolved`]),
      ];
    });
    expect(missing).toEqual([]);
    expect([...seen.keys()].filter((a) => !alerts.includes(a))).toEqual([]);
  });

  it('cover what issue 17 asks to be alerted', () => {
    for (const a of [
      'IdallocTagExhaustionForecast',
      'IdallocTagExhausted',
      'IdallocIdsSkipped',
      'IdallocFenceSkipped',
      'IdallocStoreRegression',
      'IdallocRequestsRefused',
      'IdallocTagExhaustedRefusals',
      'IdallocNoWorkerId',
      'IdallocStoreNotDurable',
      'IdallocBackupFailing',
      'IdallocBackupStale',
    ]) {
      expect(alerts).toContain(a);
    }
  });

  it.skipIf(!needsPromtool)('pass promtool check rules (required in CI)', () => {
    const r = promtool('check', 'rules', 'alerts.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it.skipIf(!needsPromtool)('pass promtool test rules alerts.test.yml (required in CI)', () => {
    const r = promtool('test', 'rules', 'alerts.test.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });
});
