/**
 * Revoked JWT ids, held in memory for a synchronous check on every request and kept equal on
 * every instance: loaded from the shared store at start, extended by `token.revoked` events.
 */
import type { Logger } from 'pino';
import type { OnInvalidate, PublishInvalidation, RevokedTokenStore } from './types.ts';

export interface RevocationListOptions {
  store: RevokedTokenStore;
  onInvalidate: OnInvalidate;
  publish: PublishInvalidation;
  logger?: Logger | undefined;
  /**
   * Seconds a revocation is kept after its token's `exp`: the longest `clockSkewSec` of the
   * issuers, since a token is still accepted that long after `exp`. Default 0.
   */
  retainSec?: number | undefined;
}

export class RevocationList {
  readonly #store: RevokedTokenStore;
  readonly #publish: PublishInvalidation;
  readonly #retainSec: number;
  /** jti → expiry (epoch seconds); after expiry the token is refused for `exp` anyway. */
  readonly #revoked = new Map<string, number>();
  readonly #unsubscribe: () => void;

  constructor(options: RevocationListOptions) {
    this.#store = options.store;
    this.#publish = options.publish;
    this.#retainSec = options.retainSec ?? 0;
    this.#unsubscribe = options.onInvalidate((event) => {
      if (event.type === 'token.revoked') this.#revoked.set(event.jti, event.expiresAt);
    });
  }

  /** Loads the active revocations from the store; call before serving traffic. */
  async load(nowSec = Math.floor(Date.now() / 1000)): Promise<void> {
    for (const { jti, expiresAt } of await this.#store.listActive(nowSec - this.#retainSec)) this.#revoked.set(jti, expiresAt);
  }

  isRevoked(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  /**
   * Revokes a token id everywhere: written to the store first (so an instance starting now
   * sees it), then announced so every instance drops it from its caches.
   */
  async revoke(jti: string, expiresAt: number): Promise<void> {
    await this.#store.add(jti, expiresAt);
    this.#revoked.set(jti, expiresAt);
    await this.#publish({ type: 'token.revoked', jti, expiresAt });
  }

  /** Forgets entries whose tokens are refused as expired anyway (past `exp` + skew), here and in the store. */
  async prune(nowSec = Math.floor(Date.now() / 1000)): Promise<void> {
    const before = nowSec - this.#retainSec;
    for (const [jti, exp] of this.#revoked) if (exp < before) this.#revoked.delete(jti);
    await this.#store.prune(before);
  }

  close(): void { this.#unsubscribe(); }
}
