/**
 * Bounded per-key state for the rules. Every map forgets its least recently touched key
 * beyond `maxKeys`, so an attacker spraying addresses or names cannot grow memory.
 */

/**
 * A Map with least-recently-used eviction. The oldest key is taken from an iterator kept
 * between evictions: `keys().next()` on a fresh iterator walks over every entry deleted at
 * the front since the table was last compacted, which made each insert of a full map cost
 * ~60 µs instead of ~0.1 µs (100,000 keys).
 */
export class LruMap<V> {
  #max: number;
  readonly #map = new Map<string, V>();
  /** Entries behind it have all been evicted: its next key is the least recently used. */
  #oldest: MapIterator<string> | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /** The value, without marking the key as recently used. */
  peek(key: string): V | undefined {
    return this.#map.get(key);
  }

  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#evictOldest();
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  /** A new bound (reload of `detect.maxKeys`); a lower one forgets the least recently used keys at once. */
  resize(max: number): void {
    this.#max = max;
    while (this.#map.size > max) this.#evictOldest();
  }

  clear(): void {
    this.#map.clear();
    this.#oldest = undefined;
  }

  get size(): number {
    return this.#map.size;
  }

  #evictOldest(): void {
    let next = this.#oldest?.next();
    // A finished iterator stays finished, whatever is added later.
    if (next === undefined || next.done === true) next = (this.#oldest = this.#map.keys()).next();
    if (next.done !== true) this.#map.delete(next.value);
  }
}

/**
 * "N events for a key within W": keeps the last `threshold` event times per key. Fires
 * when the oldest of them is within the window, then forgets the key, so the next alert
 * needs another N events.
 */
export class SlidingCounter {
  readonly #times: LruMap<number[]>;
  #threshold: number;
  #windowMs: number;

  constructor(threshold: number, windowMs: number, maxKeys: number) {
    this.#threshold = threshold;
    this.#windowMs = windowMs;
    this.#times = new LruMap(maxKeys);
  }

  /**
   * New settings for the events that follow (configuration reload). The times already kept
   * stay: each key is measured against the new threshold and window at its next event, so
   * a key already at or past a lowered threshold fires then.
   */
  configure(threshold: number, windowMs: number, maxKeys: number): void {
    this.#threshold = threshold;
    this.#windowMs = windowMs;
    this.#times.resize(maxKeys);
  }

  clear(): void {
    this.#times.clear();
  }

  /**
   * Records an event; returns the window start (time of the first counted event) when the
   * threshold is reached. Times are kept in order and the window ends at the newest one: an
   * event delivered late (a publish retried after a bus outage) counts with the events within
   * the window of it, and one older than the window is not counted at all — measured against
   * its own time, it made events far apart look like a burst.
   */
  hit(key: string, time: number): number | undefined {
    // get() already marks the key as recently used; only a new key needs a set().
    let times = this.#times.get(key);
    if (times === undefined) {
      times = [];
      this.#times.set(key, times);
    }
    const newest = Math.max(time, times.at(-1) ?? time);
    const oldest = newest - this.#windowMs;
    if (time <= oldest) return undefined;
    let at = times.length;
    while (at > 0 && times[at - 1]! > time) at -= 1;
    if (at === times.length) times.push(time);
    else times.splice(at, 0, time);
    while (times.length && times[0]! <= oldest) times.shift();
    if (times.length > this.#threshold) times.splice(0, times.length - this.#threshold);
    if (times.length >= this.#threshold) {
      this.#times.delete(key);
      return times[0]!;
    }
    return undefined;
  }
}

/**
 * One key of a {@link DistinctCounter}: the last time of each value, the newest time of the
 * key, and a min-heap of (time, value) pairs that finds the oldest value without a scan. A value
 * seen again leaves its older pair in the heap; such a stale pair is dropped when it reaches the
 * top, and the heap is rebuilt from `last` when stale pairs outnumber live ones.
 */
interface DistinctKey {
  readonly last: Map<string, number>;
  newest: number;
  times: number[];
  values: string[];
}

/**
 * "N distinct values for a key within W" (credential stuffing: names per address). Each event
 * costs O(log n) for the n values a key holds: a scan of every value per event (and
 * `Math.min(...values)`, which threw RangeError past ~120,000 of them) made a threshold of
 * 1,000,000 cost seconds per attempt, and the key's counts were lost with the throw.
 */
export class DistinctCounter {
  readonly #seen: LruMap<DistinctKey>;
  #threshold: number;
  #windowMs: number;

  constructor(threshold: number, windowMs: number, maxKeys: number) {
    this.#threshold = threshold;
    this.#windowMs = windowMs;
    this.#seen = new LruMap(maxKeys);
  }

  /** As {@link SlidingCounter.configure}: the values already seen are kept. */
  configure(threshold: number, windowMs: number, maxKeys: number): void {
    this.#threshold = threshold;
    this.#windowMs = windowMs;
    this.#seen.resize(maxKeys);
  }

  clear(): void {
    this.#seen.clear();
  }

  /** As {@link SlidingCounter.hit}, the window ends at the newest event of the key: a late one is measured against it. */
  hit(key: string, value: string, time: number): { windowStart: number; distinct: number } | undefined {
    let k = this.#seen.get(key);
    if (k === undefined) {
      k = { last: new Map(), newest: time, times: [], values: [] };
      this.#seen.set(key, k);
    }
    // A value's time only grows, so the newest event's value is never dropped below: `newest` stays one of the kept times.
    if (time > k.newest) k.newest = time;
    const oldest = k.newest - this.#windowMs;
    if (time <= oldest) return undefined;
    while (k.times.length > 0 && k.times[0]! <= oldest) {
      const v = popMin(k);
      if (k.last.get(v.value) === v.time) k.last.delete(v.value);
    }
    const last = k.last.get(value);
    if (last === undefined || last < time) {
      k.last.set(value, time);
      pushPair(k, time, value);
      if (k.times.length > 2 * k.last.size + 64) rebuild(k);
    }
    // Bounded as well: only the threshold matters (a lowered one keeps the newest values).
    while (k.last.size > this.#threshold) {
      const v = popMin(k);
      if (k.last.get(v.value) === v.time) k.last.delete(v.value);
    }
    if (k.last.size >= this.#threshold) {
      this.#seen.delete(key);
      return { windowStart: liveMin(k), distinct: k.last.size };
    }
    return undefined;
  }
}

/** The oldest kept time: stale pairs on top are dropped first. */
function liveMin(k: DistinctKey): number {
  while (k.times.length > 0 && k.last.get(k.values[0]!) !== k.times[0]) popMin(k);
  return k.times[0] ?? k.newest;
}

function pushPair(k: DistinctKey, time: number, value: string): void {
  const { times, values } = k;
  let i = times.length;
  times.push(time);
  values.push(value);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (times[parent]! <= time) break;
    times[i] = times[parent]!;
    values[i] = values[parent]!;
    i = parent;
  }
  times[i] = time;
  values[i] = value;
}

function popMin(k: DistinctKey): { time: number; value: string } {
  const { times, values } = k;
  const top = { time: times[0]!, value: values[0]! };
  const t = times.pop()!;
  const v = values.pop()!;
  const n = times.length;
  if (n === 0) return top;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && times[child + 1]! < times[child]!) child += 1;
    if (times[child]! >= t) break;
    times[i] = times[child]!;
    values[i] = values[child]!;
    i = child;
  }
  times[i] = t;
  values[i] = v;
  return top;
}

/** A heap of the live pairs only (O(n), paid for by the n stale pushes before it). */
function rebuild(k: DistinctKey): void {
  k.times = [];
  k.values = [];
  for (const [value, time] of k.last) pushPair(k, time, value);
}

export interface RateBaselineOptions { bucketMs: number; factor: number; minRequests: number; alpha: number; warmupBuckets: number; maxKeys: number }

/**
 * Request rate against an identity's usual rate: counts per bucket, an exponentially
 * weighted moving average of past buckets, and a firing test once per bucket.
 */
export class RateBaseline {
  readonly #state: LruMap<{ bucket: number; count: number; ewma: number; buckets: number; fired: boolean }>;
  #o: RateBaselineOptions;

  constructor(options: RateBaselineOptions) {
    this.#o = options;
    this.#state = new LruMap(options.maxKeys);
  }

  /**
   * New settings for the requests that follow (configuration reload). Baselines are kept,
   * except when the bucket length changes: they are counts per bucket of the old length and
   * bucket numbers of the old length, neither comparable with the new one, so every identity
   * starts over (and warms up again).
   */
  configure(options: RateBaselineOptions): void {
    if (options.bucketMs !== this.#o.bucketMs) this.#state.clear();
    this.#o = options;
    this.#state.resize(options.maxKeys);
  }

  clear(): void {
    this.#state.clear();
  }

  /** Returns `{ rate, baseline, bucketStart }` the first time a bucket crosses the threshold. */
  hit(key: string, time: number): { count: number; baseline: number; bucketStart: number } | undefined {
    const bucket = Math.floor(time / this.#o.bucketMs);
    // get() already marks the key as recently used; only a new key needs a set().
    let s = this.#state.get(key);
    if (!s) {
      s = { bucket, count: 0, ewma: 0, buckets: 0, fired: false };
      this.#state.set(key, s);
    }
    if (bucket > s.bucket) {
      // Close the finished bucket, and count the idle buckets in between as zero.
      const idle = Math.min(bucket - s.bucket - 1, 1000);
      s.ewma = s.buckets === 0 ? s.count : this.#o.alpha * s.count + (1 - this.#o.alpha) * s.ewma;
      for (let i = 0; i < idle; i++) s.ewma *= 1 - this.#o.alpha;
      s.buckets += 1 + idle;
      s.bucket = bucket;
      s.count = 0;
      s.fired = false;
    }
    s.count += 1;
    if (s.fired || s.buckets < this.#o.warmupBuckets || s.count < this.#o.minRequests) return undefined;
    if (s.count <= this.#o.factor * Math.max(s.ewma, 1)) return undefined;
    s.fired = true;
    return { count: s.count, baseline: s.ewma, bucketStart: bucket * this.#o.bucketMs };
  }
}

/**
 * The last `max` event ids seen: an event delivered again (a NATS publish retried after an
 * unacknowledged attempt reaches live subscribers once per attempt) is recognised and not
 * counted twice. Evicts oldest first, as {@link LruMap} does (an iterator kept between evictions).
 */
export class RecentIds {
  readonly #ids = new Set<string>();
  #max: number;
  #oldest: SetIterator<string> | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  /** True when `id` was seen already; otherwise remembers it (forgetting the oldest beyond `max`). */
  repeat(id: string): boolean {
    if (this.#ids.has(id)) return true;
    this.#ids.add(id);
    if (this.#ids.size > this.#max) this.#evictOldest();
    return false;
  }

  /** Whether `id` is among the remembered ones (without remembering it). */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  resize(max: number): void {
    this.#max = max;
    while (this.#ids.size > max) this.#evictOldest();
  }

  #evictOldest(): void {
    let next = this.#oldest?.next();
    if (next === undefined || next.done === true) next = (this.#oldest = this.#ids.values()).next();
    if (next.done !== true) this.#ids.delete(next.value);
  }
}
