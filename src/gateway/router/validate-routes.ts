/**
 * Cross-checks of the route table that a per-field schema cannot express. Usable on its
 * own as a config cross-check (every problem carries the route's index) and run again by
 * `compileRouter`, which refuses to build a router from a table that has problems.
 */
import type { RouteConfig, UpstreamConfig } from '../../core/config/gateway-schema.ts';
import { isGatehouseError } from '../../core/errors.ts';
import { normalizePath } from './normalize-path.ts';
import { normalizeHost, routeHostProblem } from './normalize-host.ts';
import type { RouteProblem } from './types.ts';

/** A route's prefix as the router stores it: normalized, without trailing slash ('' for '/'). */
export function routePrefix(normalizedPath: string): string {
  return normalizedPath.endsWith('/') ? normalizedPath.slice(0, -1) : normalizedPath;
}

/**
 * Every problem of a route table: an unusable host, a path that is not in normalized form
 * (the router only ever sees normalized request paths, so such a prefix could never
 * match as written), an unknown upstream, a duplicate id, or a duplicate host + path.
 *
 * @returns problems with paths like `['routes', 3, 'path']`; empty when the table is usable.
 */
export function validateRoutes(routes: readonly RouteConfig[], upstreams: Readonly<Record<string, UpstreamConfig>>): RouteProblem[] {
  const problems: RouteProblem[] = [];
  const seenIds = new Map<string, number>();
  const seenKeys = new Map<string, number>();

  routes.forEach((route, index) => {
    const at = (key: string): (string | number)[] => ['routes', index, key];

    const firstWithId = seenIds.get(route.id);
    if (firstWithId !== undefined) problems.push({ path: at('id'), message: `duplicate route id "${route.id}" (also routes.${firstWithId})` });
    else seenIds.set(route.id, index);

    if (!Object.hasOwn(upstreams, route.upstream)) problems.push({ path: at('upstream'), message: `unknown upstream "${route.upstream}"` });

    const hostProblem = routeHostProblem(route.host);
    if (hostProblem) problems.push({ path: at('host'), message: `"${route.host}" ${hostProblem}` });

    let prefix: string | undefined;
    try {
      const normalized = normalizePath(route.path);
      if (normalized.query !== '' || route.path.includes('?')) problems.push({ path: at('path'), message: 'must not contain a query' });
      else if (normalized.path !== route.path) problems.push({ path: at('path'), message: `"${route.path}" normalizes to "${normalized.path}"; write the normalized form` });
      else prefix = routePrefix(normalized.path);
    } catch (err) {
      if (!isGatehouseError(err)) throw err;
      problems.push({ path: at('path'), message: `"${route.path}" is not a valid path: ${err.detail ?? err.publicMessage}` });
    }

    if (prefix !== undefined && !hostProblem) {
      const key = `${normalizeHost(route.host)} ${prefix}`;
      const first = seenKeys.get(key);
      if (first !== undefined) problems.push({ path: at('path'), message: `same host and path prefix as routes.${first} ("${routes[first]!.id}")` });
      else seenKeys.set(key, index);
    }
  });
  return problems;
}
