/**
 * Plugs rate limiting into the gateway as an extension: fills the `edgeRateLimit` and
 * `rateLimit` slots from each configuration generation. The limiter (and its Redis
 * connection) is created once by the caller and outlives reloads.
 *
 * @example
 *   const limiter = await createRateLimiter(config.ratelimit.url, { ...config.ratelimit, logger });
 *   new Gateway({ extensions: [rateLimitExtension({ limiter, bus, logger })] });
 */
import type { Config } from '../core/config/schema.ts';
import type { GatewayExtension } from '../gateway/gateway.ts';
import { createEdgeRateLimitStage, type RateLimitStageDeps } from '../gateway/pipeline/edge-rate-limit.ts';
import { createRateLimitStage } from '../gateway/pipeline/rate-limit.ts';

export function rateLimitExtension(deps: RateLimitStageDeps): GatewayExtension {
  return {
    name: 'ratelimit',
    stages(config: Config) {
      const edge = createEdgeRateLimitStage(config.ratelimit, deps);
      const identity = createRateLimitStage(config.ratelimit, deps);
      return { ...(edge ? { edgeRateLimit: edge } : {}), ...(identity ? { rateLimit: identity } : {}) };
    },
    async stop() {
      await deps.limiter.close();
    },
  };
}
