/**
 * A bounded map with per-entry expiry, evicting the least recently inserted-or-refreshed
 * entry first. Reads do not reorder (a Map delete+set per hit costs more than it saves here);
 * this makes it an insertion-order LRU, which is enough to bound memory.
 */
export class ExpiringLru<V> {
  readonly #max: number;
  readonly #map = new Map<string, { value: V; expiresAt: number }>();

  /** @param maxEntries 0 disables caching: every `set` is dropped. */
  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number { return this.#map.size; }

  /** The value, or undefined when absent or expired at `nowMs` (expired entries are dropped). */
  get(key: string, nowMs: number): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= nowMs) { this.#map.delete(key); return undefined; }
    return entry.value;
  }

  set(key: string, value: V, expiresAtMs: number): void {
    if (this.#max === 0) return;
    this.#map.delete(key);
    if (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, { value, expiresAt: expiresAtMs });
  }

  delete(key: string): boolean { return this.#map.delete(key); }

  /** Drops every entry whose value matches; O(n), for rare invalidation events. */
  deleteWhere(predicate: (value: V) => boolean): number {
    let n = 0;
    for (const [key, entry] of this.#map) {
      if (predicate(entry.value)) { this.#map.delete(key); n++; }
    }
    return n;
  }

  clear(): void { this.#map.clear(); }
}
