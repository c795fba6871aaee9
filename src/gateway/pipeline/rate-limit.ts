/**
 * rateLimit (after authorize): a limit per identity and route. The bucket is keyed by the
 * verified identity (kind and principal id) — never by anything the client merely claims —
 * so one principal cannot spend another's quota; requests without an identity (public
 * routes) are keyed by client address (an IPv6 client by its /64, and the /64s of its prefix
 * share a second, larger bucket per route: src/ratelimit/ipv6-prefix.ts). Routes may override the limit by id.
 * Allowed responses carry RateLimit / RateLimit-Policy headers so clients can pace themselves.
 */
import type { RatelimitConfig } from '../../core/config/ratelimit-schema.ts';
import type { RateLimit } from '../../ratelimit/types.ts';
import type { RequestContext, Stage } from '../context.ts';
import { decideWithAggregate, RateLimitDecider } from '../../ratelimit/decider.ts';
import { ipv6Prefix, prefixLimit } from '../../ratelimit/ipv6-prefix.ts';
import { clientNetwork } from '../http/client-network.ts';
import type { RateLimitStageDeps } from './edge-rate-limit.ts';

/** The start of the keys of a route's buckets, the part every request on it shares. */
interface KeyPrefixes {
  idPrefix: string;
  ipPrefix: string;
}

function keyPrefixes(route: string): KeyPrefixes {
  // Each part but the last is length-prefixed, so the parts stay unambiguous whatever
  // characters a route or subject contains (kind is 'user' | 'service').
  return { idPrefix: `id:${route.length}:${route} `, ipPrefix: `ip:${route.length}:${route} ` };
}

function bucketKey(ctx: RequestContext, prefixes: KeyPrefixes): string {
  const id = ctx.identity;
  if (id === undefined) return prefixes.ipPrefix + clientNetwork(ctx.clientAddress);
  // Not the issuer: the subject is already the principal id, unique across issuers (another
  // issuer's principals are `<issuer>#<sub>`, authn/principal.ts). Keyed by issuer too, one user
  // got a bucket per credential (session, Gatehouse JWT, API token): twice the quota or more.
  return `${prefixes.idPrefix}${id.kind} ${id.subject}`;
}

/** The bucket of a request: who (verified identity, else client address) on which route. */
export function identityRateLimitKey(ctx: RequestContext): string {
  return bucketKey(ctx, keyPrefixes(ctx.route?.id ?? ''));
}

/** Returns the stage, or undefined when `ratelimit.identity.enabled` is false. */
export function createRateLimitStage(config: RatelimitConfig, deps: RateLimitStageDeps): Stage | undefined {
  if (!config.identity.enabled) return undefined;
  const fallback: RateLimit = { rate: config.identity.rate, periodMs: config.identity.periodMs, burst: config.identity.burst };
  const overrides = new Map<string, RateLimit>(Object.entries(config.identity.routes));
  // Filled as routes are met, so a request builds only the part of its key that is its
  // own; route ids come from the configuration, which bounds the map.
  const prefix = config.identity.ipv6Prefix;
  const routeEntry = (id: string, limit: RateLimit) => ({ ...keyPrefixes(id), limit, wideLimit: prefixLimit(limit, prefix.factor) });
  const routes = new Map<string, ReturnType<typeof routeEntry>>();
  const noRoute = routeEntry('', fallback);
  const decider = new RateLimitDecider('identity', 'identity', deps, true);
  const wideDecider = new RateLimitDecider('identity', 'identity-ipv6-prefix', deps, false);
  return function rateLimit(ctx) {
    let route = noRoute;
    if (ctx.route !== undefined) {
      const id = ctx.route.id;
      const known = routes.get(id);
      if (known !== undefined) route = known;
      else routes.set(id, route = routeEntry(id, overrides.get(id) ?? fallback));
    }
    const key = bucketKey(ctx, route);
    const wide = !prefix.enabled || ctx.identity !== undefined ? undefined : ipv6Prefix(clientNetwork(ctx.clientAddress), prefix.length);
    if (wide === undefined) return decider.decide(ctx, key, route.limit);
    return decideWithAggregate(ctx, { decider, key, limit: route.limit }, { decider: wideDecider, key: route.ipPrefix + wide, limit: route.wideLimit });
  };
}
