/**
 * rateLimit (after authorize): a limit per identity and route. The bucket is keyed by the
 * verified identity (kind, issuer, subject) — never by anything the client merely claims —
 * so one principal cannot spend another's quota; requests without an identity (public
 * routes) are keyed by client address. Routes may override the limit by id.
 * Allowed responses carry RateLimit / RateLimit-Policy headers so clients can pace themselves.
 */
import type { RatelimitConfig } from '../../core/config/ratelimit-schema.ts';
import type { RateLimit } from '../../ratelimit/types.ts';
import type { RequestContext, Stage } from '../context.ts';
import { RateLimitDecider } from '../../ratelimit/decider.ts';
import type { RateLimitStageDeps } from './edge-rate-limit.ts';

/** The bucket of a request: who (verified identity, else client address) on which route. */
export function identityRateLimitKey(ctx: RequestContext): string {
  const route = ctx.route?.id ?? '';
  const id = ctx.identity;
  // JSON keeps the parts unambiguous whatever characters a subject contains.
  return id ? `id:${JSON.stringify([id.kind, id.issuer ?? '', id.subject, route])}` : `ip:${JSON.stringify([ctx.clientAddress, route])}`;
}

/** Returns the stage, or undefined when `ratelimit.identity.enabled` is false. */
export function createRateLimitStage(config: RatelimitConfig, deps: RateLimitStageDeps): Stage | undefined {
  if (!config.identity.enabled) return undefined;
  const fallback: RateLimit = { rate: config.identity.rate, periodMs: config.identity.periodMs, burst: config.identity.burst };
  const perRoute = new Map<string, RateLimit>(Object.entries(config.identity.routes));
  const decider = new RateLimitDecider('identity', 'identity', deps, true);
  return function rateLimit(ctx) {
    const limit = (ctx.route && perRoute.get(ctx.route.id)) || fallback;
    return decider.decide(ctx, identityRateLimitKey(ctx), limit);
  };
}
