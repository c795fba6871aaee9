/**
 * route: normalize the path once, then host + longest prefix → route. Gatehouse's own
 * endpoints (internal handlers) are matched first by prefix. An unknown host or path (404),
 * a method (405) or upgrade the route refuses is not answered here but noted for `routed`,
 * which comes after the shield, block and edge-limit stages and before any authentication
 * work: answered here, a route scan or a blocked address escaped both.
 */
import { GatehouseError } from '../../core/errors.ts';
import type { RequestContext } from '../context.ts';
import type { CompiledRoute } from '../router/types.ts';
import { normalizePath } from '../router/normalize-path.ts';

export function route(ctx: RequestContext): void {
  const { path, query } = normalizePath(ctx.req.url ?? '');
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
  if (matched.methods && !matched.methods.has(ctx.method)) {
    return new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: `${ctx.method} on route ${matched.id}`, headers: { allow: [...matched.methods].join(', ') } });
  }
  // TRACE asks the upstream to echo the request it received, which carries what Gatehouse
  // added (the identity assertion, injected credentials, forwarded cookies): never forwarded,
  // also on routes that accept every method.
  if (ctx.method === 'TRACE') return new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: `TRACE on route ${matched.id}` });
  if (ctx.upgradeSocket && !matched.config.websocket) {
    return new GatehouseError('ERR_REQUEST_MALFORMED', { detail: `upgrade requested on route ${matched.id}, which does not allow WebSocket`, publicMessage: 'Upgrade not allowed on this route' });
  }
  return undefined;
}
