/**
 * Redis GCRA limiter (`redis://…`): one atomic script per decision, Redis's clock, so any
 * number of Gatehouse instances share one limit per key.
 *
 * The script is sent with EVALSHA and re-sent in full when Redis answers NOSCRIPT (after a
 * restart or SCRIPT FLUSH); ioredis's defineCommand implements exactly that.
 *
 * When Redis cannot answer within `timeoutMs` (down, partitioned, overloaded):
 *   - failOpen false (default): consume rejects with ERR_RATELIMIT_UNAVAILABLE (503) —
 *     a limit that cannot be checked is not silently dropped;
 *   - failOpen true: the request is allowed, the result is marked `degraded`, and the
 *     failure is logged (at most every 10 s).
 * Commands are never queued while disconnected (enableOfflineQueue false), so an outage
 * costs each request one fast failure, not a pile-up.
 *
 * A connection that goes silent without closing (Redis's host gone without a reset, a
 * partition, a firewall dropping the flow) is destroyed and reconnected once nothing has
 * arrived for `socketTimeoutMs` while a command waits. commandTimeout alone only fails each
 * command: the client would keep writing to the dead socket until TCP gives up (~15 min of
 * retransmissions), failing every decision even though Redis answers at its address again.
 */
import type { Logger } from 'pino';
import { Redis } from 'ioredis';
import { GatehouseError } from '../core/errors.ts';
import { checkLimit } from './gcra.ts';
import { GCRA_SCRIPT } from './redis-script.ts';
import type { RateLimit, RateLimiter, RateLimiterHealth, RateLimitResult } from './types.ts';

export interface RedisRateLimiterOptions {
  /** Let requests through when Redis cannot decide (default false: refuse with 503). */
  failOpen?: boolean;
  /** Prefix of every key (default `gatehouse:rl:`). */
  keyPrefix?: string;
  /** Longest wait for one decision (default 500 ms). */
  timeoutMs?: number;
  logger?: Logger;
}

type GcraReply = [number, number, number, number];
type RedisWithGcra = Redis & { gatehouseGcra(key: string, interval: string, burst: string, cost: string): Promise<GcraReply> };

const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * How long a connection may stay silent with a command outstanding before it is replaced:
 * a few decision timeouts, so that one slow reply (a fork for a snapshot, another client's
 * slow command) fails a few decisions rather than costing a reconnect, with a floor of 1 s.
 */
function socketTimeoutMs(timeoutMs: number): number {
  return Math.max(1_000, 2 * timeoutMs);
}

/** Connects and returns the limiter; throws ERR_RATELIMIT_UNAVAILABLE when Redis is unreachable and failOpen is false. */
export async function createRedisRateLimiter(url: string, options: RedisRateLimiterOptions = {}): Promise<RedisRateLimiter> {
  const limiter = new RedisRateLimiter(url, options);
  try {
    await limiter.connect();
  } catch (error) {
    if (!options.failOpen) {
      await limiter.close();
      throw new GatehouseError('ERR_RATELIMIT_UNAVAILABLE', { detail: 'cannot connect to Redis', cause: error });
    }
    options.logger?.warn({ err: error }, 'rate limiter: Redis unreachable at start; failing open until it answers');
  }
  return limiter;
}

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisWithGcra;
  readonly #failOpen: boolean;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;
  #lastFailureLog = 0;
  #suppressed = 0;

  constructor(url: string, options: RedisRateLimiterOptions = {}) {
    this.#failOpen = options.failOpen ?? false;
    this.#prefix = options.keyPrefix ?? 'gatehouse:rl:';
    this.#logger = options.logger;
    const timeoutMs = options.timeoutMs ?? 500;
    const redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: timeoutMs,
      socketTimeout: socketTimeoutMs(timeoutMs),
      connectTimeout: Math.max(timeoutMs, 2_000),
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // ioredis emits 'error' for each failed reconnect; without a listener Node would crash.
    redis.on('error', (error: Error) => this.#logFailure(error));
    redis.defineCommand('gatehouseGcra', { numberOfKeys: 1, lua: GCRA_SCRIPT });
    this.#redis = redis as RedisWithGcra;
  }

  connect(): Promise<void> {
    return this.#redis.connect();
  }

  async consume(key: string, limit: RateLimit, cost = 1): Promise<RateLimitResult> {
    checkLimit(limit, cost);
    const interval = limit.periodMs / limit.rate;
    const windowMs = Math.ceil(limit.burst * interval);
    let reply: GcraReply;
    try {
      reply = await this.#redis.gatehouseGcra(this.#prefix + key, String(interval), String(limit.burst), String(cost));
    } catch (error) {
      this.#logFailure(error);
      if (this.#failOpen) {
        return { allowed: true, limit: limit.burst, remaining: limit.burst, resetAfterMs: 0, retryAfterMs: 0, windowMs, degraded: true };
      }
      throw new GatehouseError('ERR_RATELIMIT_UNAVAILABLE', { detail: error instanceof Error ? error.message : String(error), cause: error });
    }
    const [allowed, remaining, resetAfterMs, retryAfterMs] = reply;
    return { allowed: allowed === 1, limit: limit.burst, remaining, resetAfterMs, retryAfterMs, windowMs };
  }

  async health(): Promise<RateLimiterHealth> {
    const started = performance.now();
    try {
      const pong = await this.#redis.ping();
      return { ok: pong === 'PONG', latencyMs: performance.now() - started };
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, detail: `Redis: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  async close(): Promise<void> {
    if (this.#redis.status === 'end') return;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  #logFailure(error: unknown): void {
    const now = Date.now();
    if (now - this.#lastFailureLog < FAILURE_LOG_INTERVAL_MS) {
      this.#suppressed += 1;
      return;
    }
    this.#logger?.error({ err: error, failOpen: this.#failOpen, suppressed: this.#suppressed }, 'rate limiter: Redis unavailable');
    this.#lastFailureLog = now;
    this.#suppressed = 0;
  }
}
