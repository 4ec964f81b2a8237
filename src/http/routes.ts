/**
 * The route table of the HTTP service: every route's path written once, as the express
 * pattern it is registered with and labelled by in the metrics (`/v1/ids/:tag`), and what
 * the other places need computed from it: the base `refusePaths` guards (`/v1/ids`), the
 * prefix the lean path matches (`/v1/ids/`), the path the OpenAPI document names
 * (`/v1/ids/{tag}`), and whether it is a health probe (logged at debug when it succeeds).
 * The route handlers (ids.ts, tags.ts, status.ts, openapi.ts, ops.ts), the lean path and
 * the request log read their paths here, so a route cannot be spelled two ways.
 */
import type { TagMode } from '../core/store-ports.js';

/** A route of the table with what is derived from its pattern. */
export interface Route {
  /** Its key in {@link ROUTES}. */
  readonly name: RouteName;
  /** The express pattern, as registered and as the metrics' `route` label: `/v1/ids/:tag`. */
  readonly pattern: string;
  /** Its path parameter (`tag`), when it has one; only a last segment is one here. */
  readonly param: string | undefined;
  /** The pattern cut before `/:param` (`/v1/ids`): what `refusePaths` guards. */
  readonly base: string;
  /** The pattern cut at `:param` (`/v1/ids/`): what the lean path matches a URL by. */
  readonly prefix: string;
  /** The path as the OpenAPI document names it: `/v1/ids/{tag}`. */
  readonly openApiPath: string;
  /** A frequent probe (`/healthz`…): its successes are logged at debug only. */
  readonly probe: boolean;
  /** The method it is registered with (HEAD comes with GET). */
  readonly method: 'get' | 'post';
}

/** Where the parameter starts (`:`) and its name; the whole pattern when it has none. */
function paramOf(pattern: string): { at: number; name: string | undefined } {
  const at = pattern.indexOf('/:');
  if (at < 0) return { at: pattern.length, name: undefined };
  const name = pattern.slice(at + 2);
  // Only `/…/:name` at the end: the lean path and refusePaths cut the URL there.
  if (!/^[A-Za-z]+$/.test(name)) throw new Error(`route '${pattern}': one last :param only`);
  return { at, name };
}

/** The base of `pattern`: the path before its parameter's segment. */
export function routeBase(pattern: string): string {
  return pattern.slice(0, paramOf(pattern).at);
}

/** The lean prefix of `pattern`: the path up to its parameter, the slash included. */
export function leanPrefix(pattern: string): string {
  const { at, name } = paramOf(pattern);
  return name === undefined ? pattern : pattern.slice(0, at + 1);
}

/** The OpenAPI path of `pattern`: `:name` written `{name}`. */
export function openApiPath(pattern: string): string {
  const { name } = paramOf(pattern);
  return name === undefined ? pattern : `${leanPrefix(pattern)}{${name}}`;
}

function route<N extends string>(
  name: N,
  pattern: string,
  probe = false,
  method: 'get' | 'post' = 'get',
) {
  return {
    name,
    pattern,
    param: paramOf(pattern).name,
    base: routeBase(pattern),
    prefix: leanPrefix(pattern),
    openApiPath: openApiPath(pattern),
    probe,
    method,
  };
}

const TABLE = [
  route('ids', '/v1/ids/:tag'),
  route('ranges', '/v1/ranges/:tag'),
  route('returns', '/v1/returns/:tag', false, 'post'),
  route('tagList', '/v1/tags'),
  route('tag', '/v1/tags/:tag'),
  route('snowflake', '/v1/snowflake/:id'),
  route('decode', '/v1/decode/:tag'),
  route('status', '/v1/status'),
  route('leafSegment', '/api/segment/get/:tag'),
  route('leafSnowflake', '/api/snowflake/get/:tag'),
  route('statusPage', '/'),
  route('openApi', '/openapi.json'),
  route('metrics', '/metrics', true),
  route('health', '/healthz', true),
  route('ready', '/readyz', true),
] as const;

/** The name of a route of the table. */
export type RouteName = (typeof TABLE)[number]['name'];

/** Every route of the service by name. */
export const ROUTES: Readonly<Record<RouteName, Route>> = Object.freeze(
  Object.fromEntries(TABLE.map((r) => [r.name, Object.freeze(r)])) as Record<RouteName, Route>,
);

/** The Leaf-compatible route serving each mode. */
export const LEAF_ROUTES: Readonly<Record<TagMode, Route>> = Object.freeze({
  segment: ROUTES.leafSegment,
  snowflake: ROUTES.leafSnowflake,
});

/** The patterns of the probe routes, as the request log compares `req.route.path`. */
export const PROBES: ReadonlySet<string> = new Set(
  TABLE.filter((r) => r.probe).map((r) => r.pattern),
);

/** The path of `route` for a value of its parameter: `/api/segment/get/order`. */
export function pathTo(route: Route, value: string): string {
  return route.prefix + value;
}
