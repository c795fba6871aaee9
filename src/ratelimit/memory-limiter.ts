/**
 * In-process GCRA limiter (`memory:`), the default. Synchronous: `consume` returns the
 * result directly, so the request path awaits nothing.
 *
 * Memory is bounded: keys are kept in least-recently-used order; keys whose bucket has
 * refilled (TAT in the past) carry no information and are dropped as they are met and by a
 * periodic sweep; beyond `maxKeys` refilled keys are dropped first, and only then the least
 * recently used key is evicted. Evicting a key that is still limited forgives its debt, so
 * size `maxKeys` above the number of clients active within one window (`evictions` in
 * stats() shows whether it happens).
 *
 * Refilled keys go first because the incremental prune stops at the oldest key still in
 * debt: behind it, refilled keys piled up, and a client rotating through fresh addresses
 * (an IPv6 /48 holds 65 536 /64s) pushed that key out with one request per address, wiping
 * the debt of a strict per-identity limit. The sweep that makes room is O(keys), so it runs
 * at most once per maxKeys/8 new keys; between such sweeps the limiter is mostly keys in
 * debt, and only then does eviction forgive one.
 *
 * The LRU order is a doubly linked list through the map's entries, not the Map's own
 * insertion order: moving a key to the young end is then a few pointer writes, where a
 * Map delete + set per request left a deleted slot behind that made V8 rebuild the table
 * every few calls (garbage on every request, and scavenges that copy everything in flight).
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

/** Refilled keys checked at the old end of the list on each call; keeps sweeping incremental. */
const PRUNE_PER_CALL = 4;

/** A sweep to make room runs at most once per maxKeys / ROOM_SWEEP_DIVISOR new keys. */
const ROOM_SWEEP_DIVISOR = 8;

/** One key's state, and its place in the LRU list (older ← → younger). */
class Bucket {
  readonly key: string;
  tat: number;
  older: Bucket | undefined = undefined;
  younger: Bucket | undefined = undefined;

  constructor(key: string, tat: number) {
    this.key = key;
    this.tat = tat;
  }
}

export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  /** Least recently used bucket. */
  #oldest: Bucket | undefined = undefined;
  /** Most recently used bucket. */
  #youngest: Bucket | undefined = undefined;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  readonly #roomSweepEvery: number;
  /** Keys added since the last sweep; starts full so that the first overflow sweeps. */
  #addedSinceSweep: number;
  #evictions = 0;
  #closed = false;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#roomSweepEvery = Math.max(1, Math.floor(this.#maxKeys / ROOM_SWEEP_DIVISOR));
    this.#addedSinceSweep = this.#roomSweepEvery;
    this.#now = options.now ?? (() => performance.now());
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 30_000);
    this.#sweeper.unref();
  }

  consume(key: string, limit: RateLimit, cost = 1): RateLimitResult {
    checkLimit(limit, cost);
    const now = this.#now();
    const bucket = this.#buckets.get(key);
    const decision = gcra(bucket?.tat, now, limit, cost);
    if (bucket !== undefined) {
      if (decision.tat !== undefined) bucket.tat = decision.tat;
      // Refused requests move the key too, so a client that keeps hammering is never the
      // least recently used key.
      if (bucket.tat > now) this.#touch(bucket);
      else this.#remove(bucket);
    } else if (decision.tat !== undefined && decision.tat > now) {
      this.#append(new Bucket(key, decision.tat));
    }
    this.#prune(now);
    return decision.result;
  }

  #append(bucket: Bucket): void {
    this.#addedSinceSweep += 1;
    this.#buckets.set(bucket.key, bucket);
    bucket.older = this.#youngest;
    if (this.#youngest === undefined) this.#oldest = bucket;
    else this.#youngest.younger = bucket;
    this.#youngest = bucket;
  }

  #unlink(bucket: Bucket): void {
    if (bucket.older === undefined) this.#oldest = bucket.younger;
    else bucket.older.younger = bucket.younger;
    if (bucket.younger === undefined) this.#youngest = bucket.older;
    else bucket.younger.older = bucket.older;
    bucket.older = undefined;
    bucket.younger = undefined;
  }

  #touch(bucket: Bucket): void {
    if (bucket === this.#youngest) return;
    this.#unlink(bucket);
    bucket.older = this.#youngest;
    this.#youngest!.younger = bucket;
    this.#youngest = bucket;
  }

  #remove(bucket: Bucket): void {
    this.#unlink(bucket);
    this.#buckets.delete(bucket.key);
  }

  #prune(now: number): void {
    if (this.#buckets.size > this.#maxKeys && this.#addedSinceSweep >= this.#roomSweepEvery) this.#sweepAt(now);
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#oldest!;
      if (oldest.tat > now) this.#evictions += 1;
      this.#remove(oldest);
    }
    for (let checked = 0; checked < PRUNE_PER_CALL; checked++) {
      const oldest = this.#oldest;
      if (oldest === undefined || oldest.tat > now) return;
      this.#remove(oldest);
    }
  }

  /** Drops every key whose bucket has refilled. Runs periodically; public for tests. */
  sweep(): void {
    this.#sweepAt(this.#now());
  }

  #sweepAt(now: number): void {
    this.#addedSinceSweep = 0;
    let bucket = this.#oldest;
    while (bucket !== undefined) {
      const next = bucket.younger;
      if (bucket.tat <= now) this.#remove(bucket);
      bucket = next;
    }
  }

  stats(): { keys: number; evictions: number } {
    return { keys: this.#buckets.size, evictions: this.#evictions };
  }

  async health(): Promise<RateLimiterHealth> {
    return this.#closed ? { ok: false, latencyMs: 0, detail: 'closed' } : { ok: true, latencyMs: 0, detail: `${this.#buckets.size} keys` };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#buckets.clear();
    this.#oldest = undefined;
    this.#youngest = undefined;
  }
}
