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
 *   - failOpen true: an in-memory limiter of this instance decides instead (the configured
 *     limits per instance, or divided by `fallbackInstances`), the result is marked
 *     `degraded`, and the failure is logged (at most every 10 s). Each decision tries Redis
 *     first, so the shared limits are back as soon as Redis answers. Before, failOpen let
 *     every request through unchecked: a Redis outage (or a client able to cause one) lifted
 *     every limit of the fleet.
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
import { checkLimit, MAX_WINDOW_MS, windowOf } from './gcra.ts';
import { MemoryRateLimiter } from './memory-limiter.ts';
import { GCRA_SCRIPT } from './redis-script.ts';
import type { RateLimit, RateLimiter, RateLimiterHealth, RateLimitResult } from './types.ts';

export interface RedisRateLimiterOptions {
  /** Let requests through when Redis cannot decide (default false: refuse with 503). */
  failOpen?: boolean;
  /** Prefix of every key (default `gatehouse:rl:`). */
  keyPrefix?: string;
  /** Longest wait for one decision (default 500 ms). */
  timeoutMs?: number;
  /**
   * failOpen: while Redis cannot decide, each instance enforces the limits divided by this
   * (default 1: the full limits per instance, so N instances allow up to N times a limit).
   */
  fallbackInstances?: number;
  /** failOpen: most keys of the in-memory fallback (default 100 000). */
  maxKeys?: number;
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

/**
 * Key of the health probe's bucket, after the prefix. The stages' keys start with `edge:`,
 * `id:` or `ip:`, so the probe never spends a client's quota.
 */
const PROBE_KEY = 'health-probe';

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Connects, checks that Redis can decide, and returns the limiter. Throws
 * ERR_RATELIMIT_UNAVAILABLE when Redis is unreachable or cannot decide (a read-only replica,
 * out of memory, scripts denied) and failOpen is false, and ERR_CONFIG_INVALID for a Redis
 * Cluster node whatever failOpen says.
 */
export async function createRedisRateLimiter(url: string, options: RedisRateLimiterOptions = {}): Promise<RedisRateLimiter> {
  const limiter = new RedisRateLimiter(url, options);
  let failure: { detail: string; error: unknown } | undefined;
  try {
    await limiter.connect();
  } catch (error) {
    failure = { detail: 'cannot connect to Redis', error };
  }
  if (failure === undefined) {
    if (await limiter.isCluster()) {
      await limiter.close();
      throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'ratelimit.url names a Redis Cluster node; Redis Cluster is not supported (keys on other shards answer MOVED): use a single Redis server or a primary behind one address' });
    }
    try {
      await limiter.probe();
    } catch (error) {
      failure = { detail: `Redis cannot decide: ${messageOf(error)}`, error };
    }
  }
  if (failure !== undefined) {
    if (!options.failOpen) {
      await limiter.close();
      throw new GatehouseError('ERR_RATELIMIT_UNAVAILABLE', { detail: failure.detail, cause: failure.error });
    }
    options.logger?.warn({ err: failure.error }, `rate limiter: ${failure.detail} at start; deciding with per-instance in-memory limits until it does`);
  }
  return limiter;
}

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisWithGcra;
  readonly #failOpen: boolean;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;
  /** Decides while Redis cannot (failOpen only). */
  readonly #fallback: MemoryRateLimiter | undefined;
  readonly #fallbackInstances: number;
  /** performance.now() of the last failure logged: on the wall clock, a step back silenced the log for its length. */
  #lastFailureLog = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(url: string, options: RedisRateLimiterOptions = {}) {
    this.#failOpen = options.failOpen ?? false;
    this.#prefix = options.keyPrefix ?? 'gatehouse:rl:';
    this.#logger = options.logger;
    this.#fallbackInstances = options.fallbackInstances ?? 1;
    this.#fallback = this.#failOpen ? new MemoryRateLimiter({ maxKeys: options.maxKeys ?? 100_000 }) : undefined;
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
      if (this.#fallback !== undefined) return this.#decideLocally(key, limit, cost);
      throw new GatehouseError('ERR_RATELIMIT_UNAVAILABLE', { detail: messageOf(error), cause: error });
    }
    const [allowed, remaining, resetAfterMs, retryAfterMs] = reply;
    return { allowed: allowed === 1, limit: limit.burst, remaining, resetAfterMs, retryAfterMs, windowMs };
  }

  /** The in-memory decision while Redis cannot decide; the limit is this instance's share. */
  #decideLocally(key: string, limit: RateLimit, cost: number): RateLimitResult {
    const n = this.#fallbackInstances;
    // Rate and burst divided alike keep the refill time; a burst below 1 would be no limit's.
    let share = n === 1 ? limit : { rate: limit.rate / n, periodMs: limit.periodMs, burst: Math.max(1, Math.floor(limit.burst / n)) };
    // A burst below n raised to 1 lengthens the refill time up to n-fold, past the ten-year
    // maximum for a limit near it (checkLimit would fail the request): keep the whole limit then.
    if (!(windowOf(share) <= MAX_WINDOW_MS)) share = limit;
    const result = this.#fallback!.consume(key, share, Math.min(cost, share.burst));
    return { ...result, degraded: true };
  }

  /**
   * Makes one decision on a bucket of its own; throws when Redis cannot decide. A PING is not
   * enough: a replica (what a primary's address serves after a failover demoted it), a Redis
   * out of memory or an ACL without EVAL answer PING and refuse every decision.
   */
  async probe(): Promise<void> {
    // One per µs with a burst of a million: never refused, and the key lives about 1 ms.
    const [allowed] = await this.#redis.gatehouseGcra(this.#prefix + PROBE_KEY, '0.001', '1000000', '1');
    if (allowed !== 1) throw new Error('the health probe was refused');
  }

  /** Whether Redis is a Cluster node (INFO cluster); false when INFO cannot be read. */
  async isCluster(): Promise<boolean> {
    try {
      return /^cluster_enabled:1\b/m.test(await this.#redis.info('cluster'));
    } catch {
      return false;
    }
  }

  async health(): Promise<RateLimiterHealth> {
    const started = performance.now();
    try {
      await this.probe();
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      const fallback = this.#fallback === undefined ? '' : '; deciding with per-instance in-memory limits (failOpen)';
      return { ok: false, latencyMs: performance.now() - started, detail: `Redis: ${messageOf(error)}${fallback}` };
    }
  }

  async close(): Promise<void> {
    await this.#fallback?.close();
    if (this.#redis.status === 'end') return;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  #logFailure(error: unknown): void {
    const now = performance.now();
    if (now - this.#lastFailureLog < FAILURE_LOG_INTERVAL_MS) {
      this.#suppressed += 1;
      return;
    }
    this.#logger?.error({ err: error, failOpen: this.#failOpen, suppressed: this.#suppressed }, 'rate limiter: Redis unavailable');
    this.#lastFailureLog = now;
    this.#suppressed = 0;
  }
}
