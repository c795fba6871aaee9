/**
 * Chooses the rate limiter backend from a URL: `memory:` (in-process, the default) or
 * `redis://…` / `rediss://…` (shared by all instances).
 *
 * @example
 *   const limiter = await createRateLimiter(config.ratelimit.url, { failOpen: config.ratelimit.failOpen, logger });
 *   const r = await limiter.consume(`edge:${ctx.clientAddress}`, config.ratelimit.edge);
 */
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import { MemoryRateLimiter, type MemoryRateLimiterOptions } from './memory-limiter.ts';
import { createRedisRateLimiter, type RedisRateLimiterOptions } from './redis-limiter.ts';
import type { RateLimiter } from './types.ts';

export interface RateLimiterOptions extends RedisRateLimiterOptions, MemoryRateLimiterOptions {
  logger?: Logger;
}

export async function createRateLimiter(url: string, options: RateLimiterOptions = {}): Promise<RateLimiter> {
  if (url === 'memory:') return new MemoryRateLimiter(options);
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return createRedisRateLimiter(url, options);
  throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `ratelimit.url must be 'memory:' or a redis:// URL (got scheme ${url.split(':')[0] ?? ''})` });
}
