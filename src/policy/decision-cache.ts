/**
 * Bounded cache of decision outcomes. The key is built by the engine from exactly the
 * inputs that can change a decision (see engine.ts `cacheKey`); this class only stores,
 * bounds and counts. Eviction is oldest-first (insertion order): no bookkeeping on a hit,
 * which keeps the hit path to one Map lookup.
 */
import type { DecisionBasis, PolicyError } from './types.ts';

/** The part of a decision that is a pure function of its inputs (no id, no time). */
export interface DecisionOutcome {
  readonly allowed: boolean;
  readonly basis: DecisionBasis;
  readonly reasons: readonly string[];
  readonly errors: readonly PolicyError[];
}

/** Numbers for the metrics code. */
export interface DecisionCacheStats {
  hits: number;
  misses: number;
  size: number;
  /** hits / (hits + misses); 0 before the first lookup. */
  hitRate: number;
}

export class DecisionCache {
  readonly #map = new Map<string, DecisionOutcome>();
  readonly #max: number;
  #hits = 0;
  #misses = 0;

  /** @param maxEntries 0 disables caching. */
  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get enabled(): boolean {
    return this.#max > 0;
  }

  get(key: string): DecisionOutcome | undefined {
    const v = this.#map.get(key);
    if (v === undefined) this.#misses++;
    else this.#hits++;
    return v;
  }

  set(key: string, value: DecisionOutcome): void {
    if (this.#max <= 0) return;
    if (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
  }

  clear(): void {
    this.#map.clear();
  }

  stats(): DecisionCacheStats {
    const total = this.#hits + this.#misses;
    return { hits: this.#hits, misses: this.#misses, size: this.#map.size, hitRate: total === 0 ? 0 : this.#hits / total };
  }
}
