/**
 * The route table: host + normalized path → route.
 *
 * Host: exact, case-insensitive, port and trailing dot ignored; a host without a
 * matching route falls back to the `*` routes. Path: the longest configured prefix that
 * ends on a segment boundary (`/api` matches `/api`, `/api/` and `/api/x`, never `/apix`).
 *
 * Everything is precompiled: per host, a Map from prefix to route and the distinct prefix
 * lengths, longest first. A lookup is at most one Map probe per distinct prefix length
 * of that host, with no regular expressions. Maps (not objects) so that hosts or
 * segments such as `__proto__` or `constructor` are plain keys.
 */
import type { RouteConfig, UpstreamConfig } from '../../core/config/gateway-schema.ts';
import { GatehouseError } from '../../core/errors.ts';
import { normalizePath } from './normalize-path.ts';
import { normalizeHost } from './normalize-host.ts';
import type { CompiledRoute, RouteProblem, Router } from './types.ts';
import { compileIpRules } from '../http/ip-rules.ts';
import { routePrefix, validateRoutes } from './validate-routes.ts';

export type { CompiledRoute, RouteProblem, Router } from './types.ts';
export { validateRoutes } from './validate-routes.ts';
export { normalizeHost } from './normalize-host.ts';

/** Thrown by `compileRouter` when the route table has problems; lists all of them. */
export class RouteConfigError extends GatehouseError {
  readonly problems: readonly RouteProblem[];
  constructor(problems: RouteProblem[]) {
    super('ERR_CONFIG_INVALID', {
      detail: `route table has ${problems.length} problem(s): ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`,
      data: { problems },
    });
    this.problems = problems;
  }
}

interface HostTable {
  readonly byPrefix: Map<string, CompiledRoute>;
  /** Distinct prefix lengths, longest first. */
  lengths: number[];
}

function lookup(table: HostTable, path: string): CompiledRoute | undefined {
  const { lengths, byPrefix } = table;
  const length = path.length;
  for (let i = 0; i < lengths.length; i++) {
    const l = lengths[i]!;
    if (l > length) continue;
    if (l === length) {
      const route = byPrefix.get(path);
      if (route !== undefined) return route;
    } else if (path.charCodeAt(l) === 0x2f) {
      const route = byPrefix.get(path.slice(0, l));
      if (route !== undefined) return route;
    }
  }
  return undefined;
}

/**
 * Validates and compiles the route table.
 *
 * @param defaults.maxBodyBytes body limit for routes that set none (`limits.maxBodyBytes`).
 * @throws RouteConfigError (`ERR_CONFIG_INVALID`) listing every problem of the table.
 * @example
 *   const router = compileRouter(config.routes, config.upstreams, { maxBodyBytes: config.limits.maxBodyBytes });
 *   const route = router.match(req.headers.host ?? '', normalizePath(req.url!).path);
 */
export function compileRouter(
  routes: readonly RouteConfig[],
  upstreams: Readonly<Record<string, UpstreamConfig>>,
  defaults: { maxBodyBytes: number },
): Router {
  const problems = validateRoutes(routes, upstreams);
  if (problems.length > 0) throw new RouteConfigError(problems);

  const tables = new Map<string, HostTable>();
  const compiled: CompiledRoute[] = [];
  for (const config of routes) {
    const host = normalizeHost(config.host);
    const route: CompiledRoute = Object.freeze({
      id: config.id,
      config,
      upstreamName: config.upstream,
      upstream: upstreams[config.upstream]!,
      host,
      prefix: routePrefix(normalizePath(config.path).path),
      methods: config.methods ? new Set(config.methods) : undefined,
      maxBodyBytes: config.maxBodyBytes ?? defaults.maxBodyBytes,
      ipRules: compileIpRules(config.ipRules),
    });
    compiled.push(route);
    let table = tables.get(host);
    if (!table) tables.set(host, table = { byPrefix: new Map(), lengths: [] });
    table.byPrefix.set(route.prefix, route);
    if (!table.lengths.includes(route.prefix.length)) table.lengths.push(route.prefix.length);
  }
  for (const table of tables.values()) table.lengths.sort((a, b) => b - a);

  const wildcard = tables.get('*');
  tables.delete('*');
  const frozen = Object.freeze(compiled);

  return {
    routes: frozen,
    match(host: string, path: string): CompiledRoute | undefined {
      if (tables.size > 0) {
        const table = tables.get(normalizeHost(host));
        if (table !== undefined) {
          const route = lookup(table, path);
          if (route !== undefined) return route;
        }
      }
      return wildcard === undefined ? undefined : lookup(wildcard, path);
    },
  };
}

/**
 * The path to forward for a request matched to `route`: unchanged, or with the route's
 * prefix removed when the route sets `stripPrefix` (`/api/x` → `/x`, `/api` → `/`).
 *
 * @param path the normalized path that `match` was called with.
 * @throws GatehouseError `ERR_INTERNAL` when `path` is not under the route's prefix
 *   (a caller bug; forwarding an unstripped path would reach the wrong upstream resource).
 */
export function stripRoutePrefix(route: CompiledRoute, path: string): string {
  const prefix = route.prefix;
  if (!route.config.stripPrefix || prefix === '') return path;
  if (!path.startsWith(prefix) || (path.length > prefix.length && path.charCodeAt(prefix.length) !== 0x2f)) {
    throw new GatehouseError('ERR_INTERNAL', { detail: `path is not under the prefix of route ${route.id}` });
  }
  return path.length === prefix.length ? '/' : path.slice(prefix.length);
}
