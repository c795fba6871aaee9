/**
 * route: normalize the path once, then host + longest prefix → route. Gatehouse's own
 * endpoints (internal handlers) are matched first by prefix. A request target normalization
 * refuses (400 ERR_REQUEST_PATH_INVALID: traversal, NUL, encoded slashes…), an unknown host or
 * path (404), a method (405) or upgrade the route refuses is not answered here but noted for
 * `routed`, which comes after the shield, block and edge-limit stages and before any
 * authentication work: answered here, a route scan, a traversal probe or a blocked address
 * escaped both.
 */
import { GatehouseError } from '../../core/errors.ts';
import type { RequestContext } from '../context.ts';
import type { CompiledRoute } from '../router/types.ts';
import { normalizePath } from '../router/normalize-path.ts';
import { overrideMethods } from '../http/effective-methods.ts';

export function route(ctx: RequestContext): void {
  let target: ReturnType<typeof normalizePath>;
  try {
    target = normalizePath(ctx.req.url ?? '');
  } catch (err) {
    // No path, no route: the shield judges the client by the global rules alone.
    if (!(err instanceof GatehouseError)) throw err;
    ctx.routeRefusal = err;
    return;
  }
  const { path, query } = target;
  ctx.path = path;
  ctx.query = query;
  const gen = ctx.gen;
  for (const handler of gen.internal) {
    for (const prefix of handler.prefixes) {
      if (path.startsWith(prefix)) { ctx.internalHandler = handler; return; }
    }
  }
  const matched = gen.router.match(ctx.host, path);
  if (!matched) {
    ctx.routeRefusal = new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND', { detail: `no route for host "${ctx.host}" path "${path}"` });
    return;
  }
  ctx.route = matched;
  ctx.routeRefusal = refusalOf(ctx, matched);
}

/** Why the matched route does not take this request, if it does not. */
function refusalOf(ctx: RequestContext, matched: CompiledRoute): GatehouseError | undefined {
  const refused = refusedMethod(ctx.method, matched) ?? refusedOverride(ctx, matched);
  if (refused !== undefined) return refused;
  if (ctx.upgradeSocket && !matched.config.websocket) {
    return new GatehouseError('ERR_REQUEST_MALFORMED', { detail: `upgrade requested on route ${matched.id}, which does not allow WebSocket`, publicMessage: 'Upgrade not allowed on this route' });
  }
  return undefined;
}

/**
 * The route's method list, and TRACE, which asks the upstream to echo the request it received,
 * carrying what Gatehouse added (the identity assertion, injected credentials, forwarded
 * cookies): never forwarded, also on routes that accept every method.
 */
function refusedMethod(method: string, matched: CompiledRoute): GatehouseError | undefined {
  if (matched.methods && !matched.methods.has(method)) {
    return new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: `${method} on route ${matched.id}`, headers: { allow: [...matched.methods].join(', ') } });
  }
  if (method === 'TRACE') return new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: `TRACE on route ${matched.id}` });
  return undefined;
}

/**
 * The same rules for a method that an override header or a `_method` query parameter names
 * (effective-methods.ts): the upstream's framework may run it instead of the request line's,
 * so a POST naming DELETE must not pass a route that takes GET and POST only.
 */
function refusedOverride(ctx: RequestContext, matched: CompiledRoute): GatehouseError | undefined {
  const named = overrideMethods(ctx);
  if (named === undefined) return undefined;
  for (const method of named) {
    const refused = refusedMethod(method, matched);
    if (refused !== undefined) {
      return new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: `${ctx.method} naming ${method} (method override) on route ${matched.id}`, ...(refused.headers ? { headers: refused.headers } : {}) });
    }
  }
  return undefined;
}
