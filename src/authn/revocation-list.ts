/**
 * Revoked JWTs, held in memory for a synchronous check on every request and kept equal on
 * every instance: loaded from the shared store at start, extended by `token.revoked` events.
 * A revocation names the issuer and the `jti`: a `jti` is unique only within its issuer, and
 * whoever runs an external issuer chooses its jtis, so a revocation by `jti` alone would also
 * refuse unrelated tokens of other issuers.
 */
import type { Logger } from 'pino';
import type { OnInvalidate, PublishInvalidation, RevokedJwt, RevokedTokenStore } from './types.ts';

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
  /** issuer → jti → expiry (epoch seconds); after expiry the token is refused for `exp` anyway. */
  readonly #revoked = new Map<string, Map<string, number>>();
  /**
   * jti → expiry of revocations stored before revocations named the issuer: they apply to
   * every issuer (fail closed) until they expire. Empty in a store created since.
   */
  readonly #anyIssuer = new Map<string, number>();
  readonly #unsubscribe: () => void;

  constructor(options: RevocationListOptions) {
    this.#store = options.store;
    this.#publish = options.publish;
    this.#retainSec = options.retainSec ?? 0;
    this.#unsubscribe = options.onInvalidate((event) => {
      if (event.type === 'token.revoked') this.#remember(event);
    });
  }

  #remember({ issuer, jti, expiresAt }: RevokedJwt): void {
    if (issuer === undefined) { this.#anyIssuer.set(jti, expiresAt); return; }
    let ids = this.#revoked.get(issuer);
    if (ids === undefined) this.#revoked.set(issuer, ids = new Map());
    ids.set(jti, expiresAt);
  }

  /** Loads the active revocations from the store; call before serving traffic. */
  async load(nowSec = Math.floor(Date.now() / 1000)): Promise<void> {
    for (const entry of await this.#store.listActive(nowSec - this.#retainSec)) this.#remember(entry);
  }

  /** Whether the token `jti` of `issuer` (the verified issuer, not an unchecked claim) is revoked. */
  isRevoked(issuer: string, jti: string): boolean {
    return this.#revoked.get(issuer)?.has(jti) === true || this.#anyIssuer.has(jti);
  }

  /**
   * Revokes a token everywhere: written to the store first (so an instance starting now
   * sees it), then announced so every instance drops it from its caches.
   */
  async revoke(issuer: string, jti: string, expiresAt: number): Promise<void> {
    await this.#store.add(issuer, jti, expiresAt);
    this.#remember({ issuer, jti, expiresAt });
    await this.#publish({ type: 'token.revoked', issuer, jti, expiresAt });
  }

  /** Forgets entries whose tokens are refused as expired anyway (past `exp` + skew), here and in the store. */
  async prune(nowSec = Math.floor(Date.now() / 1000)): Promise<void> {
    const before = nowSec - this.#retainSec;
    for (const [issuer, ids] of this.#revoked) {
      for (const [jti, exp] of ids) if (exp < before) ids.delete(jti);
      if (ids.size === 0) this.#revoked.delete(issuer);
    }
    for (const [jti, exp] of this.#anyIssuer) if (exp < before) this.#anyIssuer.delete(jti);
    await this.#store.prune(before);
  }

  close(): void { this.#unsubscribe(); }
}
