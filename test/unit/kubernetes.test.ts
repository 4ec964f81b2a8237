/**
 * The Kubernetes manifests (deploy/kubernetes, docs/kubernetes.md) against the Kubernetes
 * API schemas and against the service. Every document of every file must validate
 * against the schema of its apiVersion/kind, unknown fields refused (a kind with no
 * schema fails, never skipped); then what no schema can see: selectors that match the
 * pods, probes on the readiness contract, only settings the service reads, a grace
 * period that outlasts the shutdown delay and drain, the image's own user. Last, broken
 * manifests must be refused, so a validator that accepts everything cannot pass.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config/schema.js';
import { validateManifest } from '../support/kubernetes-schema.js';

const ROOT = new URL('../../', import.meta.url);
const DIR = 'deploy/kubernetes';
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, checked by the schemas first
type Doc = any;

/** Every .yaml/.yml under deploy/kubernetes, sub-folders included. */
function manifestFiles(): string[] {
  return readdirSync(new URL(DIR, ROOT), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => `${DIR}/${f}`)
    .sort();
}

const FILES = manifestFiles();
const DOCS: { file: string; doc: Doc }[] = FILES.flatMap((file) =>
  parseAllDocuments(read(file)).map((d) => {
    if (d.errors.length > 0 || d.warnings.length > 0) {
      throw new Error(`${file}: ${[...d.errors, ...d.warnings].map((e) => e.message).join('; ')}`);
    }
    return { file, doc: d.toJS() as Doc };
  }),
);

/** The one document of a kind (and name, when several), failing when absent. */
function one(kind: string, name?: string): Doc {
  const found = DOCS.filter(
    (d) => d.doc?.kind === kind && (name === undefined || d.doc.metadata?.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0]!.doc;
}

/** The pod specs the manifests run: the Deployment's and the CronJob's. */
const podSpecs = (): { owner: string; spec: Doc }[] =>
  DOCS.flatMap(({ doc }) => {
    if (doc.kind === 'Deployment') return [{ owner: doc.kind, spec: doc.spec.template.spec }];
    if (doc.kind === 'CronJob') {
      return [{ owner: doc.kind, spec: doc.spec.jobTemplate.spec.template.spec }];
    }
    return [];
  });

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Every variable the service reads: the manifests may set no other. */
const KNOWN = new Set(CONFIG_VARIABLES);

describe('deploy/kubernetes against the Kubernetes API schemas', () => {
  it('holds the manifests the guide applies', () => {
    const kinds = DOCS.map((d) => d.doc?.kind).sort();
    for (const kind of ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']) {
      expect(kinds).toContain(kind);
    }
  });

  it.each(FILES)('%s: every document validates against its schema', (file) => {
    const docs = DOCS.filter((d) => d.file === file);
    expect(docs.length).toBeGreaterThan(0);
    for (const { doc } of docs) {
      expect(validateManifest(doc), `${file} ${doc?.kind}/${doc?.metadata?.name}`).toEqual([]);
    }
  });
});

describe('deploy/kubernetes against the service', () => {
  const deployment = one('Deployment', 'idalloc');
  const pod = deployment.spec.template;
  const container = pod.spec.containers.find((c: Doc) => c.name === 'idalloc');
  const config = one('ConfigMap', 'idalloc-config').data as Record<string, string>;

  it('the Deployment, Service, PDB and ServiceMonitor select the idalloc pods', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    const service = one('Service', 'idalloc');
    expect(service.spec.type).toBe('ClusterIP');
    expect(matches(service.spec.selector, pod.metadata.labels)).toBe(true);
    expect(service.spec.ports).toEqual([
      expect.objectContaining({ name: 'http', port: 8080, targetPort: 'http' }),
    ]);
    const pdb = one('PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    for (const monitor of DOCS.filter((d) => d.doc.kind === 'ServiceMonitor')) {
      expect(matches(monitor.doc.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
      for (const e of monitor.doc.spec.endpoints) expect(e.port).toBe('http');
    }
  });

  it('probes follow the readiness contract on the container port the image listens on', () => {
    const dockerfile = read('Dockerfile');
    const port = Number(/^\s*PORT=(\d+)/m.exec(dockerfile)?.[1]);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    expect(container.ports).toEqual([
      expect.objectContaining({ name: 'http', containerPort: port }),
    ]);
    expect(config.PORT).toBeUndefined();
    const probe = (p: Doc) => [p?.httpGet?.path, p?.httpGet?.port];
    expect(probe(container.livenessProbe)).toEqual(['/healthz', 'http']);
    expect(probe(container.startupProbe)).toEqual(['/healthz', 'http']);
    expect(probe(container.readinessProbe)).toEqual(['/readyz', 'http']);
  });

  it('sets only variables the service reads, from a ConfigMap and a Secret that exist', () => {
    for (const { owner, spec } of podSpecs()) {
      for (const c of spec.containers as Doc[]) {
        const names: string[] = [];
        for (const e of (c.env ?? []) as Doc[]) {
          names.push(e.name);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) expect(one('Secret', ref.name).stringData, e.name).toHaveProperty(ref.key);
        }
        for (const from of (c.envFrom ?? []) as Doc[]) {
          if (from.configMapRef)
            names.push(...Object.keys(one('ConfigMap', from.configMapRef.name).data));
          if (from.secretRef)
            names.push(...Object.keys(one('Secret', from.secretRef.name).stringData));
        }
        expect(names.length, `${owner}/${c.name}`).toBeGreaterThan(0);
        expect(
          names.filter((n) => !KNOWN.has(n)),
          `${owner}/${c.name}`,
        ).toEqual([]);
      }
    }
    const env = new Map(container.env.map((e: Doc) => [e.name, e]));
    expect(env.get('NODE_ID')).toMatchObject({
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    expect(env.get('API_TOKENS')).toHaveProperty('valueFrom.secretKeyRef');
    expect(config.API_TOKENS).toBeUndefined();
    expect(config).toMatchObject({
      REQUIRE_DURABLE_STORE: 'true',
      REDIS_SENTINEL_MASTER: expect.any(String),
    });
    expect(config.REDIS_SENTINELS).toMatch(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/);
  });

  it('the grace period outlasts SHUTDOWN_DELAY_MS and the 10 s drain, with a margin', () => {
    const delaySeconds = Number(config.SHUTDOWN_DELAY_MS ?? '0') / 1000;
    expect(delaySeconds).toBeGreaterThan(0);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(delaySeconds + 10 + 5);
  });

  it('WORKERS agrees with the CPU limit', () => {
    const limit = String(container.resources.limits.cpu);
    const cpus = limit.endsWith('m') ? Number(limit.slice(0, -1)) / 1000 : Number(limit);
    expect(cpus).toBeGreaterThanOrEqual(1);
    // auto counts the CPUs of the cgroup quota; a fixed count must not exceed the limit.
    if (config.WORKERS !== 'auto') expect(Number(config.WORKERS ?? '1')).toBeLessThanOrEqual(cpus);
  });

  it("runs as the image's user, non-root, with a read-only root filesystem", () => {
    // The Dockerfile's USER is the official Node images' `node` user, uid 1000.
    expect(read('Dockerfile')).toMatch(/^USER node$/m);
    for (const { owner, spec } of podSpecs()) {
      expect(spec.securityContext, owner).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of spec.containers as Doc[]) {
        expect(c.securityContext, `${owner}/${c.name}`).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
      }
    }
  });

  it('the PrometheusRule holds the rules of deploy/prometheus/alerts.yml but the backup ones', () => {
    // The backup alerts read the status file of `tag export --status-file`, which
    // node_exporter's textfile collector serves in the compose stack; the CronJob here has
    // no such collector, so those rules would fire for ever (docs/kubernetes.md).
    const alerts = parseYaml(read('deploy/prometheus/alerts.yml')) as Doc;
    const withoutBackups = (alerts.groups as { rules: { expr: string }[] }[]).map((g) => ({
      ...g,
      rules: g.rules.filter((r) => !String(r.expr).includes('idalloc_backup_')),
    }));
    expect(withoutBackups.flatMap((g) => g.rules).length).toBeLessThan(
      (alerts.groups as { rules: unknown[] }[]).flatMap((g) => g.rules).length,
    );
    expect(one('PrometheusRule', 'idalloc').spec.groups).toEqual(withoutBackups);
  });
});

describe('the validation refuses broken manifests', () => {
  const base = () => structuredClone(one('Deployment', 'idalloc'));

  it('a wrong type, naming the path', () => {
    const doc = base();
    doc.spec.replicas = 'two';
    expect(validateManifest(doc)).toEqual(['/spec/replicas: must be integer (type)']);
  });

  it('an unknown field, naming the path', () => {
    const doc = base();
    const c = doc.spec.template.spec.containers[0];
    c.readinesProbe = c.readinessProbe;
    delete c.readinessProbe;
    expect(validateManifest(doc)).toEqual([
      '/spec/template/spec/containers/0/readinesProbe: unknown field (the schema has no such property)',
    ]);
    const monitor = structuredClone(one('ServiceMonitor'));
    monitor.spec.endpoints[0].pth = '/metrics';
    expect(validateManifest(monitor)).toEqual([
      '/spec/endpoints/0/pth: unknown field (the schema has no such property)',
    ]);
  });

  it('a missing required field, naming the path', () => {
    const doc = base();
    delete doc.spec.template.spec.containers;
    expect(validateManifest(doc)).toEqual([
      '/spec/template/spec: must have required property containers',
    ]);
  });

  it('a kind with no schema', () => {
    const doc = { ...base(), apiVersion: 'apps/v1beta1' };
    expect(validateManifest(doc)).toEqual([
      expect.stringMatching(/^\/: no schema for apps\/v1beta1\/Deployment/),
    ]);
  });
});
