/**
 * edgeRateLimit (shield slot): a per-client-address limit before any identity work, so a
 * flood is refused at the cost of one map lookup (memory) or one Redis call.
 * The address is the one accept derived from trusted proxies only; a client cannot pick
 * its own bucket with X-Forwarded-For. An IPv6 client's bucket is its /64 (clientNetwork):
 * one host picks any of its 2^64 addresses per connection, one bucket each otherwise; and
 * the /64s of its enclosing prefix (a /48) share a second, larger bucket, or one customer
 * would rotate through 65 536 /64s (src/ratelimit/ipv6-prefix.ts).
 */
import type { Logger } from 'pino';
import type { EventBus } from '../../bus/types.ts';
import type { RatelimitConfig } from '../../core/config/ratelimit-schema.ts';
import type { RateLimiter } from '../../ratelimit/types.ts';
import type { Stage } from '../context.ts';
import { decideWithAggregate, RateLimitDecider } from '../../ratelimit/decider.ts';
import { ipv6Prefix, prefixLimit } from '../../ratelimit/ipv6-prefix.ts';
import { clientNetwork } from '../http/client-network.ts';

export interface RateLimitStageDeps {
  limiter: RateLimiter;
  bus?: EventBus;
  logger?: Logger;
}

/** Returns the stage, or undefined when `ratelimit.edge.enabled` is false (the slot stays empty). */
export function createEdgeRateLimitStage(config: RatelimitConfig, deps: RateLimitStageDeps): Stage | undefined {
  if (!config.edge.enabled) return undefined;
  const limit = { rate: config.edge.rate, periodMs: config.edge.periodMs, burst: config.edge.burst };
  const decider = new RateLimitDecider('edge', 'edge', deps, false);
  const prefix = config.edge.ipv6Prefix;
  if (!prefix.enabled) {
    return function edgeRateLimit(ctx) {
      return decider.decide(ctx, `edge:${clientNetwork(ctx.clientAddress)}`, limit);
    };
  }
  const wideLimit = prefixLimit(limit, prefix.factor);
  const wideDecider = new RateLimitDecider('edge', 'edge-ipv6-prefix', deps, false);
  return function edgeRateLimit(ctx) {
    const network = clientNetwork(ctx.clientAddress);
    const wide = ipv6Prefix(network, prefix.length);
    if (wide === undefined) return decider.decide(ctx, `edge:${network}`, limit);
    return decideWithAggregate(ctx, { decider, key: `edge:${network}`, limit }, { decider: wideDecider, key: `edge:${wide}`, limit: wideLimit });
  };
}
