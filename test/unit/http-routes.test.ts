/**
 * The route table (src/http/routes.ts) is the one spelling of the service's paths: the
 * app registers each of its routes once under its pattern (and nothing else but the
 * refusals of a parameter route's base), the lean prefixes and OpenAPI paths are derived
 * from the patterns, docs/openapi.json names exactly the table's routes, and no path
 * literal is left in src/http outside the table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { IdAllocator } from '../../src/allocator/types.js';
import { httpSettings } from '../../src/config/options.js';
import { loadConfig } from '../../src/config/schema.js';
import { createApp } from '../../src/http/app.js';
import { ReadyState } from '../../src/http/ready.js';
import {
  LEAF_ROUTES,
  PROBES,
  ROUTES,
  leanPrefix,
  openApiPath,
  routeBase,
} from '../../src/http/routes.js';
import { createMetrics } from '../../src/observe/metrics/index.js';

const ROOT = new URL('../../', import.meta.url);
const TABLE = Object.values(ROUTES);
/** A literal that is an API path… */
const PATH_START = /^\/(v1|api)\//;
/** …or holds one quoted, as the status page's script would (`fetch('/v1/status')`). */
const EMBEDDED_PATH = /['"]\/(v1|api)\//;

/** The express routes of a real app: path and methods, in registration order. */
function registeredRoutes(): { path: string; methods: string[] }[] {
  // Registering routes touches no dependency: stubs that are never called will do.
  const allocator = {} as IdAllocator;
  const metrics = createMetrics({ defaultMetrics: false });
  const app = createApp({
    allocator,
    tags: { getTag: () => Promise.resolve(undefined), listTags: () => Promise.resolve([]) },
    metrics,
    config: httpSettings(loadConfig({})),
    logger: pino({ level: 'silent' }),
    ready: new ReadyState({ allocator, metrics }),
  });
  const stack = (app as unknown as { router: { stack: { route?: unknown }[] } }).router.stack;
  return stack.flatMap((layer) => {
    const route = layer.route as { path: unknown; methods: Record<string, boolean> } | undefined;
    if (!route) return [];
    const methods = Object.keys(route.methods).filter((m) => route.methods[m]);
    return [{ path: String(route.path), methods }];
  });
}

/** Every string and template-literal text of a TypeScript source, comments excluded. */
function literals(source: string): string[] {
  const file = ts.createSourceFile('x.ts', source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      found.push(node.text);
    }
    node.forEachChild(visit);
  };
  visit(file);
  return found;
}

describe('the route table', () => {
  it('names each route once, under its own name, with one pattern each', () => {
    for (const [name, route] of Object.entries(ROUTES)) expect(route.name).toBe(name);
    const patterns = TABLE.map((r) => r.pattern);
    expect(new Set(patterns).size).toBe(patterns.length);
  });

  it('is registered by the app: each route exactly once, with its method (GET but for a return)', () => {
    const routes = registeredRoutes();
    for (const { pattern, method } of TABLE) {
      const found = routes.filter((r) => r.path === pattern);
      expect(found, pattern).toHaveLength(1);
      expect(found[0]!.methods, pattern).toEqual([method]);
      expect(method === 'post', pattern).toBe(pattern === '/v1/returns/:tag');
    }
  });

  it('is all the app registers, besides the refusals of a parameter route’s base', () => {
    const allowed = new Set(TABLE.map((r) => r.pattern));
    for (const r of TABLE.filter((t) => t.param !== undefined)) {
      allowed.add(r.base);
      allowed.add(`${r.base}/*rest`);
    }
    const stray = registeredRoutes().filter((r) => !allowed.has(r.path));
    expect(stray).toEqual([]);
  });

  it('derives each lean prefix by cutting the pattern at its :tag', () => {
    for (const r of TABLE.filter((t) => t.param === 'tag')) {
      expect(r.prefix).toBe(r.pattern.slice(0, r.pattern.indexOf(':tag')));
      expect(r.base).toBe(r.prefix.slice(0, -1));
    }
    // The lean path's three routes, as it matched them before the table.
    expect(ROUTES.ids.prefix).toBe('/v1/ids/');
    expect(LEAF_ROUTES.segment.prefix).toBe('/api/segment/get/');
    expect(LEAF_ROUTES.snowflake.prefix).toBe('/api/snowflake/get/');
  });

  it('derives the base, prefix and OpenAPI path with small functions', () => {
    expect(routeBase('/v1/snowflake/:id')).toBe('/v1/snowflake');
    expect(leanPrefix('/v1/snowflake/:id')).toBe('/v1/snowflake/');
    expect(openApiPath('/v1/snowflake/:id')).toBe('/v1/snowflake/{id}');
    expect(routeBase('/v1/tags')).toBe('/v1/tags');
    expect(openApiPath('/healthz')).toBe('/healthz');
    expect(() => openApiPath('/v1/:a/b')).toThrow(/one last :param only/);
  });

  it('marks the probes the request log logs at debug', () => {
    expect([...PROBES].sort()).toEqual(['/healthz', '/metrics', '/readyz']);
  });

  it('names exactly the paths of docs/openapi.json', () => {
    const doc = JSON.parse(readFileSync(new URL('docs/openapi.json', ROOT), 'utf8')) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths).sort()).toEqual(TABLE.map((r) => r.openApiPath).sort());
  });

  it('leaves no path literal in src/http outside routes.ts', () => {
    const dir = new URL('src/http/', ROOT);
    const spelled = new Set(
      TABLE.flatMap((r) => [r.pattern, r.base, r.prefix, r.openApiPath]).filter((p) => p !== '/'),
    );
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'routes.ts');
    expect(files.length).toBeGreaterThan(10);
    const stray = files.flatMap((f) =>
      literals(readFileSync(new URL(f, dir), 'utf8'))
        .filter((s) => PATH_START.test(s) || EMBEDDED_PATH.test(s) || spelled.has(s))
        .map((s) => `${f}: ${s}`),
    );
    expect(stray).toEqual([]);
  });
});
