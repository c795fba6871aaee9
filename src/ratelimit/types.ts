/**
 * The rate limiter contract. Every backend implements GCRA (see gcra.ts and
 * docs/rate-limiting.md) so that a limit means the same thing in memory and in Redis.
 */

/**
 * `rate` requests per `periodMs` on average, with up to `burst` requests at once.
 * Example: `{ rate: 100, periodMs: 1000, burst: 200 }` — 100/s sustained, 200 back to back.
 */
export interface RateLimit {
  rate: number;
  periodMs: number;
  burst: number;
}

export interface RateLimitResult {
  allowed: boolean;
  /** The burst size (the most requests that can be made at once). */
  limit: number;
  /** Requests of cost 1 that would be allowed right now, after this one. */
  remaining: number;
  /** Milliseconds until the key is back to a full burst (nothing consumed). */
  resetAfterMs: number;
  /** Milliseconds until this request would be allowed; 0 when allowed. */
  retryAfterMs: number;
  /** Milliseconds an empty bucket takes to refill completely (`burst × periodMs / rate`). */
  windowMs: number;
  /** Set when the backend was unreachable and, with `failOpen`, the per-instance in-memory fallback decided. */
  degraded?: boolean;
}

export interface RateLimiterHealth {
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

export interface RateLimiter {
  /**
   * Takes `cost` (default 1, 0 to only look) from the bucket of `key` if enough is left.
   * The memory backend answers synchronously (no promise on the hot path); await-or-not
   * with `result instanceof Promise`. Redis rejects with ERR_RATELIMIT_UNAVAILABLE when
   * Redis cannot answer and `failOpen` is false.
   */
  consume(key: string, limit: RateLimit, cost?: number): RateLimitResult | Promise<RateLimitResult>;
  health(): Promise<RateLimiterHealth>;
  close(): Promise<void>;
  /** In-memory backends: keys held now, and evictions of keys still in debt since start (each forgave a limited client). */
  stats?(): { keys: number; evictions: number };
}
