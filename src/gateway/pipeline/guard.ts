/**
 * guard: the last check before anything is sent upstream, independent of which security
 * stages are configured. A route that is not public must have a verified identity; a
 * policy route must have an allow decision. If a stage is missing or misconfigured,
 * this refuses instead of forwarding (fail closed).
 */
import { GatehouseError } from '../../core/errors.ts';
import type { RequestContext } from '../context.ts';

export function guard(ctx: RequestContext): void {
  const access = ctx.route!.config.access;
  if (access === 'public') return;
  if (ctx.identity === undefined) {
    throw new GatehouseError('ERR_AUTHN_REQUIRED', { detail: `route ${ctx.route!.id} requires authentication and no identity was verified`, headers: { 'www-authenticate': 'Bearer' } });
  }
  if (access === 'policy' && !ctx.authorized) {
    throw new GatehouseError('ERR_POLICY_DENIED', { detail: `route ${ctx.route!.id} requires a policy decision and none allowed the request` });
  }
}
