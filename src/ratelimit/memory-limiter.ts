/**
 * In-process GCRA limiter (`memory:`), the default. Synchronous: `consume` returns the
 * result directly, so the request path awaits nothing.
 *
 * Memory is bounded: the map is kept in least-recently-used order; keys whose bucket has
 * refilled (TAT in the past) carry no information and are dropped as they are met and by a
 * periodic sweep; beyond `maxKeys` the least recently used key is evicted. Evicting a key
 * that is still limited forgives its debt, so size `maxKeys` above the number of clients
 * active within one window (`evictions` in stats() shows whether it happens).
 *
 * Limits are per process: N instances with memory limiters allow N times the rate. Use
 * Redis when running several instances.
 */
import { checkLimit, gcra } from './gcra.ts';
import type { RateLimit, RateLimiter, RateLimiterHealth, RateLimitResult } from './types.ts';

export interface MemoryRateLimiterOptions {
  /** Most keys kept (default 100 000). */
  maxKeys?: number;
  /** Milliseconds between full sweeps of refilled keys (default 30 s). */
  sweepIntervalMs?: number;
  /** Monotonic clock in ms; injectable for tests. Default `performance.now()`. */
  now?: () => number;
}

/** Refilled keys checked at the old end of the map on each call; keeps sweeping incremental. */
const PRUNE_PER_CALL = 4;

export class MemoryRateLimiter implements RateLimiter {
  readonly #tats = new Map<string, number>();
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  #evictions = 0;
  #closed = false;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 30_000);
    this.#sweeper.unref();
  }

  consume(key: string, limit: RateLimit, cost = 1): RateLimitResult {
    checkLimit(limit, cost);
    const now = this.#now();
    const stored = this.#tats.get(key);
    const decision = gcra(stored, now, limit, cost);
    const tat = decision.tat ?? stored;
    if (tat !== undefined && tat > now) {
      // Delete + set moves the key to the young end (LRU order) — refused requests too, so
      // a client that keeps hammering is never the least recently used key.
      this.#tats.delete(key);
      this.#tats.set(key, tat);
    } else if (stored !== undefined) {
      this.#tats.delete(key);
    }
    this.#prune(now);
    return decision.result;
  }

  #prune(now: number): void {
    let checked = 0;
    for (const [key, tat] of this.#tats) {
      if (this.#tats.size > this.#maxKeys) {
        this.#tats.delete(key);
        if (tat > now) this.#evictions += 1;
        continue;
      }
      if (checked++ >= PRUNE_PER_CALL || tat > now) break;
      this.#tats.delete(key);
    }
  }

  /** Drops every key whose bucket has refilled. Runs periodically; public for tests. */
  sweep(): void {
    const now = this.#now();
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
  }

  stats(): { keys: number; evictions: number } {
    return { keys: this.#tats.size, evictions: this.#evictions };
  }

  async health(): Promise<RateLimiterHealth> {
    return this.#closed ? { ok: false, latencyMs: 0, detail: 'closed' } : { ok: true, latencyMs: 0, detail: `${this.#tats.size} keys` };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#tats.clear();
  }
}
