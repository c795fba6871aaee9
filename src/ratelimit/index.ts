/** Public surface of rate limiting. */
export { createRateLimiter, type RateLimiterOptions } from './create-rate-limiter.ts';
export { formatRateLimitHeaders } from './headers.ts';
export { MemoryRateLimiter, type MemoryRateLimiterOptions } from './memory-limiter.ts';
export { RedisRateLimiter, createRedisRateLimiter, type RedisRateLimiterOptions } from './redis-limiter.ts';
export type { RateLimit, RateLimiter, RateLimiterHealth, RateLimitResult } from './types.ts';
