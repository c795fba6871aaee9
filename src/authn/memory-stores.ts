/**
 * In-memory implementations of the authentication stores, for a single process without a
 * database and for tests. The SQL-backed ones live in src/store.
 */
import type { RevokedJwt, RevokedTokenStore } from './types.ts';

export class MemoryRevokedTokenStore implements RevokedTokenStore {
  /** Keyed by the JSON of [issuer, jti]: unambiguous whatever characters either holds. */
  readonly #entries = new Map<string, RevokedJwt>();
  async add(issuer: string, jti: string, expiresAt: number): Promise<void> {
    const key = JSON.stringify([issuer, jti]);
    this.#entries.set(key, { issuer, jti, expiresAt: Math.max(expiresAt, this.#entries.get(key)?.expiresAt ?? 0) });
  }
  async listActive(now: number): Promise<RevokedJwt[]> {
    return [...this.#entries.values()].filter((e) => e.expiresAt >= now).map((e) => ({ ...e }));
  }
  async prune(now: number): Promise<number> {
    let n = 0;
    for (const [key, e] of this.#entries) if (e.expiresAt < now) { this.#entries.delete(key); n++; }
    return n;
  }
}
