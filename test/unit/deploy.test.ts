/**
 * The deployment files (docs/design.md §12) against the metrics contract (docs/design.md §9): every query in
 * the Grafana dashboard and every alert rule names only metrics, labels and label values
 * the service exports, so a renamed metric cannot leave a silent, empty panel or an alert
 * that never fires. Plain text checks: no Docker, promtool or YAML parser needed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SKIP_REASONS } from '../../src/core/grant-log.js';
import { REFUSED_CODES } from '../../src/observe/metrics/http.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** A label's allowed values, or null for any value. */
type Labels = Readonly<Record<string, readonly string[] | null>>;
interface MetricSpec {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: Labels;
}

/** docs/design.md §9, by hand: the point is to notice when code, dashboard or spec drift apart. */
const SPEC_METRICS: Readonly<Record<string, MetricSpec>> = {
  idalloc_ids_issued_total: {
    type: 'counter',
    labels: { tag: null, mode: ['segment', 'snowflake'] },
  },
  idalloc_segment_fetches_total: {
    type: 'counter',
    labels: { tag: null, outcome: ['ok', 'error', 'discarded'] },
  },
  // No tag label: one histogram for all tags keeps /metrics bounded (README "Metrics").
  idalloc_segment_fetch_duration_seconds: {
    type: 'histogram',
    labels: { outcome: ['ok', 'error', 'discarded'] },
  },
  idalloc_segment_remaining_ids: {
    type: 'gauge',
    labels: { tag: null, buffer: ['current', 'next'] },
  },
  idalloc_segment_step: { type: 'gauge', labels: { tag: null } },
  idalloc_segment_waits_total: { type: 'counter', labels: { tag: null } },
  idalloc_store_regressions_total: { type: 'counter', labels: { tag: null } },
  idalloc_store_up: { type: 'gauge', labels: {} },
  idalloc_store_durable: { type: 'gauge', labels: {} },
  idalloc_ready: { type: 'gauge', labels: {} },
  idalloc_snowflake_worker_id: { type: 'gauge', labels: {} },
  idalloc_snowflake_clock_backwards_total: {
    type: 'counter',
    labels: { outcome: ['waited', 'refused'] },
  },
  http_request_duration_seconds: {
    type: 'histogram',
    labels: { method: null, route: null, status_code: null },
  },
  idalloc_http_refused_total: { type: 'counter', labels: { code: REFUSED_CODES } },
  idalloc_ids_skipped_total: { type: 'counter', labels: { tag: null, reason: SKIP_REASONS } },
  // Issue 20: IDs a clean stop gave back to the counter (no gap).
  idalloc_ids_handed_back_total: { type: 'counter', labels: { tag: null } },
  idalloc_tag_ids_left: { type: 'gauge', labels: { tag: null } },
  // Not the service's: the status file of `tag export --status-file` (cli/backup-status.ts),
  // read by node_exporter's textfile collector (docs/monitoring.md).
  idalloc_backup_last_attempt_timestamp_seconds: { type: 'gauge', labels: {} },
  idalloc_backup_last_success_timestamp_seconds: { type: 'gauge', labels: {} },
  idalloc_backup_last_ok: { type: 'gauge', labels: {} },
  idalloc_backup_tags: { type: 'gauge', labels: {} },
};

/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS: Labels = { instance: null, job: null };
const HISTOGRAM_SERIES = /^(.+)_(bucket|sum|count)$/;

/**
 * What is wrong with one PromQL expression: metric names outside docs/design.md §9, label
 * matchers a metric does not have (or values it never takes), and `by`/`without`
 * labels that none of the expression's metrics carry.
 */
function checkExpr(expr: string): string[] {
  const problems: string[] = [];
  const usable = new Set(Object.keys(TARGET_LABELS));
  for (const m of expr.matchAll(/\b((?:idalloc|http)_[a-z0-9_]*)\s*(\{[^}]*\})?/g)) {
    const token = m[1]!;
    const split = HISTOGRAM_SERIES.exec(token);
    const histogram = split && SPEC_METRICS[split[1]!]?.type === 'histogram' ? split : null;
    const name = histogram ? histogram[1]! : token;
    const spec = SPEC_METRICS[name];
    if (!spec) {
      problems.push(`'${token}' is not a docs/design.md §9 metric (in: ${expr})`);
      continue;
    }
    const labels: Labels = {
      ...spec.labels,
      ...TARGET_LABELS,
      ...(histogram?.[2] === 'bucket' ? { le: null } : {}),
    };
    for (const l of Object.keys(labels)) usable.add(l);
    for (const [, label, op, value] of (m[2] ?? '').matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
      const allowed = labels[label!];
      if (allowed === undefined) {
        problems.push(`${token} has no label '${label}' (in: ${expr})`);
        continue;
      }
      if (allowed === null || value!.includes('$')) continue;
      const values = op!.endsWith('~') ? value!.split('|') : [value!];
      for (const v of values.filter((x) => !allowed.includes(x))) {
        problems.push(`${token}{${label}} never takes the value '${v}' (in: ${expr})`);
      }
    }
  }
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const label of m[1]!.split(',').map((l) => l.trim())) {
      if (label && !usable.has(label)) {
        problems.push(`no metric in the expression has the label '${label}' (in: ${expr})`);
      }
    }
  }
  return problems;
}

interface Panel {
  readonly id?: number;
  readonly type?: string;
  readonly title?: string;
  readonly gridPos?: { h: number; w: number; x: number; y: number };
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: readonly { expr?: string; datasource?: { uid?: string } }[];
  readonly panels?: readonly Panel[];
}
interface Dashboard {
  readonly uid?: string;
  readonly title?: string;
  readonly schemaVersion?: number;
  readonly panels: readonly Panel[];
  readonly templating?: {
    list: readonly {
      name: string;
      type?: string;
      datasource?: { uid?: string };
      query?: string | { query?: string };
      definition?: string;
    }[];
  };
}

const dashboard = JSON.parse(read('deploy/grafana/dashboards/idalloc.json')) as Dashboard;
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const datasourceUid = /^\s*uid:\s*(\S+)\s*$/m.exec(
  read('deploy/grafana/provisioning/datasources/prometheus.yml'),
)?.[1];

function dashboardExprs(): string[] {
  const exprs = allPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
  for (const v of dashboard.templating?.list ?? []) {
    exprs.push(typeof v.query === 'string' ? v.query : (v.query?.query ?? ''));
    if (v.definition) exprs.push(v.definition);
  }
  return exprs;
}

/** The `expr:` of each rule, inline or as a folded/literal block (`>-`, `|`). */
function alertExprs(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  lines.forEach((line, i) => {
    const m = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!m) return;
    if (!/^[>|][-+]?$/.test(m[2]!)) {
      exprs.push(m[2]!);
      return;
    }
    const block: string[] = [];
    for (const next of lines.slice(i + 1)) {
      if (next.trim() !== '' && next.search(/\S/) <= m[1]!.length) break;
      block.push(next.trim());
    }
    exprs.push(block.join(' ').trim());
  });
  return exprs;
}

describe('the metric checker used below', () => {
  it('reports unknown metrics, labels, label values and grouping labels', () => {
    const problems = checkExpr(
      'sum by (tag, status) (rate(idalloc_ids_total[1m])) + ' +
        'idalloc_segment_fetches_total{outcome="failed", node="a"} + idalloc_store_up_bucket',
    );
    expect(problems).toHaveLength(5);
  });

  it('accepts histogram series, target labels and regex alternatives docs/design.md §9 allows', () => {
    const expr =
      'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket' +
      '{instance=~"$instance", status_code="503"}[5m]))) + ' +
      'sum by (job) (idalloc_segment_fetches_total{outcome=~"error|discarded"})';
    expect(checkExpr(expr)).toEqual([]);
  });
});

describe('the Grafana dashboard', () => {
  it('has what provisioning needs: uid, title, schemaVersion and unique panel ids', () => {
    expect(dashboard.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = allPanels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('places every panel inside the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    const clashes: string[] = [];
    for (const p of allPanels) {
      const g = p.gridPos;
      expect(g, `gridPos of '${p.title}'`).toBeDefined();
      if (!g) continue;
      expect(g.x + g.w, `right edge of '${p.title}'`).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          if (cells.has(`${x},${y}`)) clashes.push(`'${p.title}' at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(clashes).toEqual([]);
  });

  it('names no fixed data source uid: every query goes through the datasource variable', () => {
    // Walk the whole JSON: any `datasource` object, wherever Grafana may read one.
    const uids: unknown[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node !== null && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'datasource' && value !== null && typeof value === 'object') {
            uids.push((value as { uid?: unknown }).uid);
          } else walk(value);
        }
      }
    };
    walk(dashboard);
    expect(uids.length).toBeGreaterThan(allPanels.length);
    expect(new Set(uids)).toEqual(new Set(['${datasource}']));
    expect(datasourceUid).toBeTruthy();
    expect(JSON.stringify(dashboard)).not.toContain(datasourceUid);
    const variable = dashboard.templating?.list.find((v) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    // Provisioned, the variable picks the compose stack's Prometheus as the default one.
    expect(read('deploy/grafana/provisioning/datasources/prometheus.yml')).toMatch(
      /^\s*isDefault: true\s*$/m,
    );
  });

  it('has a panel for each failure issue 17 names', () => {
    const text = dashboardExprs().join('\n');
    for (const needle of [
      'idalloc_tag_ids_left',
      'predict_linear(',
      'idalloc_ids_skipped_total',
      'reason="fence"',
      'idalloc_http_refused_total',
      'idalloc_snowflake_worker_id{instance=~"$instance"} == -1',
      'idalloc_store_durable{instance=~"$instance"} == 0',
      'idalloc_ready{instance=~"$instance"} == 0',
      'idalloc_backup_last_ok',
      'idalloc_backup_last_success_timestamp_seconds',
    ]) {
      expect(text, needle).toContain(needle);
    }
  });

  it('uses only the metrics, labels and label values of docs/design.md §9', () => {
    const exprs = dashboardExprs();
    expect(exprs.filter((e) => e.includes('idalloc_')).length).toBeGreaterThanOrEqual(10);
    expect(exprs.flatMap(checkExpr)).toEqual([]);
  });

  it('charts every docs/design.md §9 metric', () => {
    const text = dashboardExprs().join('\n');
    const missing = Object.keys(SPEC_METRICS).filter((name) => !text.includes(name));
    expect(missing).toEqual([]);
  });
});

describe('the Prometheus alert rules', () => {
  const yaml = read('deploy/prometheus/alerts.yml');

  it('use only the metrics, labels and label values of docs/design.md §9', () => {
    const exprs = alertExprs(yaml);
    expect(exprs).toHaveLength(yaml.match(/^\s*- alert:/gm)?.length ?? -1);
    expect(exprs.flatMap(checkExpr)).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('has Prometheus scrape every idalloc node it runs, on the port the image exposes', () => {
    const nodes = [...read('docker-compose.yml').matchAll(/^ {2}(idalloc-\d+):\s*$/gm)]
      .map((m) => `${m[1]}:8080`)
      .sort();
    const targets = [...read('deploy/prometheus/prometheus.yml').matchAll(/- (idalloc-\S+)/g)]
      .map((m) => m[1])
      .sort();
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    expect(targets).toEqual(nodes);
    expect(read('Dockerfile')).toMatch(/^EXPOSE 8080$/m);
  });
});

describe('the backup outcome in docker-compose.yml', () => {
  it('reaches Prometheus: status file -> node-exporter textfile directory -> scrape job', () => {
    const compose = read('docker-compose.yml');
    const backup = compose.slice(
      compose.indexOf('\n  backup:'),
      compose.indexOf('\n  node-exporter:'),
    );
    const status = /--status-file (\S+\.prom)\b/.exec(backup)?.[1];
    expect(status, 'the backup loop passes --status-file FILE.prom').toBeDefined();
    expect(backup).toMatch(/working_dir: \/app\/data/);
    expect(backup).toMatch(/- tag-backups:\/app\/data/);
    const exporter = compose.slice(compose.indexOf('\n  node-exporter:'));
    const dir = /--collector\.textfile\.directory=(\S+)/.exec(exporter)?.[1];
    expect(exporter).toContain(`- tag-backups:${dir}:ro`);
    expect(read('deploy/prometheus/prometheus.yml')).toMatch(/- node-exporter:9100/);
  });
});

describe('the scrape of a node with API_TOKENS set', () => {
  it('sends the bearer token from the file compose fills with METRICS_TOKEN or API_TOKENS', () => {
    const prometheus = read('deploy/prometheus/prometheus.yml');
    const job = prometheus.slice(prometheus.indexOf('- job_name: idalloc'));
    const file = /authorization:\s+type: Bearer\s+credentials_file: (\S+)/.exec(job)?.[1];
    expect(file, 'the idalloc job sends a bearer token from a file').toBeDefined();
    const compose = read('docker-compose.yml');
    expect(compose).toMatch(/^ {4}content: \$\{METRICS_TOKEN:-\$\{API_TOKENS:-\}\}$/m);
    expect(compose).toContain(`target: ${file}`);
  });
});

describe('the Dockerfile', () => {
  it('sends every file `npm run build` reads into the build context and copies it', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    const files: string[] = [
      ...(pkg.scripts.build!.match(/[\w./-]+\.(?:json|mjs|cjs|js|sh)\b/g) ?? []),
    ];
    for (const config of files.filter((f) => f.startsWith('tsconfig'))) {
      const base = /"extends":\s*"\.\/([^"]+)"/.exec(read(config))?.[1];
      if (base) files.push(base);
    }
    expect(files).toContain('tsconfig.build.json');
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).trim());
    const copied = read('Dockerfile')
      .split('\n')
      .filter((l) => /^COPY (?!--from)/.test(l))
      .join(' ');
    for (const file of [...files, 'src']) {
      expect(allowed, `.dockerignore lets ${file} through`).toContain(file);
      expect(copied, `the Dockerfile copies ${file}`).toContain(file);
    }
  });
});
