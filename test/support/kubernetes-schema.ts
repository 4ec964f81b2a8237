/**
 * Validation of Kubernetes manifests against the Kubernetes API schemas, for
 * test/unit/kubernetes.test.ts. The schemas are the ones `kubernetes-models` (the core
 * API) and `@kubernetes-models/prometheus-operator` (monitoring.coreos.com CRDs) compile
 * with ajv: types, required fields, enums and formats.
 *
 * Those schemas, like the API server's OpenAPI, leave objects open: an unknown field
 * (a typo such as `readinesProbe`) passes them, though `kubectl apply` with strict field
 * validation refuses it. So this module refuses it too, without a second copy of the
 * schemas: the document is validated through a Proxy that records every property the
 * compiled validator reads. A validator reads each property its schema declares (it must,
 * to check it), and reads every key of a map (labels, ConfigMap data) while checking
 * its values; a key it never read on an object it did visit is therefore a field the
 * schema does not have. Objects the validator never visits (a schema that accepts
 * anything) are not judged.
 */
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CronJob } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';

/** What a kubernetes-models class offers here: its type meta and its schema's validate. */
interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  readonly prototype: { validate(this: unknown): void };
}

/**
 * Every apiVersion/kind the manifests may use. A document of another kind has no schema
 * here and is refused by {@link validateManifest}: adding a kind means adding it here.
 */
const MODELS: readonly ModelClass[] = [
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Secret,
  Service,
  Deployment,
  CronJob,
  PodDisruptionBudget,
  ServiceMonitor,
  PrometheusRule,
];

/** The ajv errors a failed validate() throws with (its ValidationError's `errors`). */
interface SchemaError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly message?: string;
}

const BY_TYPE = new Map(MODELS.map((m) => [`${m.apiVersion}/${m.kind}`, m]));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The problems of one parsed YAML document, each as `<JSON pointer>: <what>`; empty when
 * it validates. Never throws for a bad document.
 */
export function validateManifest(doc: unknown): string[] {
  if (!isObject(doc)) return ['/: not a mapping (a Kubernetes object)'];
  const type = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  const model = BY_TYPE.get(type);
  if (!model) return [`/: no schema for ${type} (known: ${[...BY_TYPE.keys()].join(', ')})`];

  const reads = new WeakMap<object, Set<PropertyKey>>();
  const problems: string[] = [];
  try {
    model.prototype.validate.call(watched(doc, reads));
  } catch (err) {
    const errors = (err as { errors?: readonly SchemaError[] }).errors;
    if (!Array.isArray(errors)) throw err;
    for (const e of errors) {
      const detail = e.keyword === 'required' ? `${e.message}` : `${e.message} (${e.keyword})`;
      problems.push(`${e.instancePath || '/'}: ${detail}`);
    }
  }
  unknownFields(doc, '', reads, problems);
  return problems;
}

/** `value` behind Proxies that note, per object, each key read from it. */
function watched(value: unknown, reads: WeakMap<object, Set<PropertyKey>>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      let keys = reads.get(target);
      if (!keys) reads.set(target, (keys = new Set()));
      keys.add(key);
      return watched(Reflect.get(target, key, receiver), reads);
    },
  });
}

/** Pushes `<path>: unknown field` for each key never read on an object the validator visited. */
function unknownFields(
  value: Json | undefined,
  path: string,
  reads: WeakMap<object, Set<PropertyKey>>,
  problems: string[],
): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => unknownFields(item, `${path}/${i}`, reads, problems));
    return;
  }
  if (!isObject(value)) return;
  const read = reads.get(value);
  if (!read) return;
  for (const [key, child] of Object.entries(value)) {
    const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (read.has(key)) unknownFields(child, at, reads, problems);
    else problems.push(`${at}: unknown field (the schema has no such property)`);
  }
}
