/**
 * In-memory implementations of the authentication stores, for a single process without a
 * database and for tests. The SQL-backed ones live in src/store.
 */
import type { RevokedTokenStore } from './types.ts';

export class MemoryRevokedTokenStore implements RevokedTokenStore {
  readonly #entries = new Map<string, number>();
  async add(jti: string, expiresAt: number): Promise<void> { this.#entries.set(jti, Math.max(expiresAt, this.#entries.get(jti) ?? 0)); }
  async listActive(now: number): Promise<{ jti: string; expiresAt: number }[]> {
    return [...this.#entries].filter(([, exp]) => exp >= now).map(([jti, expiresAt]) => ({ jti, expiresAt }));
  }
  async prune(now: number): Promise<number> {
    let n = 0;
    for (const [jti, exp] of this.#entries) if (exp < now) { this.#entries.delete(jti); n++; }
    return n;
  }
}
