/**
 * shield: cheap refusals before any identity work, and before routing answers 404 (a client
 * the IP rules refuse learns nothing about which routes exist) — a declared body too large,
 * the IP rules (top-level, then the route's), and the edge checks that other components
 * register right after it (blocks, edge rate limit).
 */
import { GatehouseError } from '../../core/errors.ts';
import type { RequestContext } from '../context.ts';
import type { IpRules } from '../http/ip-rules.ts';

export function shield(ctx: RequestContext): void {
  const global = ctx.gen.ipRules;
  if (global !== undefined) checkIpRules(ctx, global, 'global');
  const route = ctx.route;
  if (route?.ipRules !== undefined) checkIpRules(ctx, route.ipRules, 'route');
  const length = ctx.req.headers['content-length'];
  if (length !== undefined) {
    const max = route ? route.maxBodyBytes : ctx.gen.config.limits.maxBodyBytes;
    if (Number(length) > max) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE', { detail: `content-length ${length} over ${max}` });
  }
}

/**
 * 403 ERR_SHIELD_IP_DENIED, nothing about why on the wire; which rule goes to the log and the access record.
 * Exported for Gatehouse's own endpoints that act for a route (the approvers' API), which the shield saw without one.
 */
export function checkIpRules(ctx: RequestContext, rules: IpRules, scope: 'global' | 'route'): void {
  const refusal = rules.refusal(ctx.clientAddress);
  if (refusal === undefined) return;
  const ipRule = `${scope} ${refusal}`;
  throw new GatehouseError('ERR_SHIELD_IP_DENIED', { detail: `client ${ctx.clientAddress || '(none)'} refused by ipRules: ${ipRule}${scope === 'route' ? ` of route ${ctx.route!.id}` : ''}`, data: { ipRule } });
}
