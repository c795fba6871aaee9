/**
 * Remembers DPoP proofs already presented (RFC 9449 §11.1), until they would be refused as
 * too old anyway. The in-memory cache is the embedded default; several instances share one
 * through the store (`createAuthnDpopProofRepo`), otherwise a proof captured from one
 * instance could be replayed once against each of the others.
 */
import { ExpiringLru } from '../lru-cache.ts';

export interface ReplayCache {
  /**
   * Records `key` until `expiresAtMs` and resolves true when it was not seen before (or its
   * earlier record expired); false means a replay. Rejects when the backend is unreachable
   * (the caller refuses the request: fail closed).
   */
  firstUse(key: string, expiresAtMs: number): Promise<boolean>;
}

/**
 * A bounded in-process replay cache. When full, the oldest entry is evicted; a proof whose
 * entry was evicted could be replayed, so size it above (requests per second × window).
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #seen: ExpiringLru<true>;
  readonly #now: () => number;

  constructor(maxEntries = 1_000_000, now: () => number = Date.now) {
    this.#seen = new ExpiringLru(maxEntries);
    this.#now = now;
  }

  async firstUse(key: string, expiresAtMs: number): Promise<boolean> {
    if (this.#seen.get(key, this.#now()) !== undefined) return false;
    this.#seen.set(key, true, expiresAtMs);
    return true;
  }

  get size(): number { return this.#seen.size; }
}
