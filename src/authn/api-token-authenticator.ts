/**
 * `ghs_…` API tokens: verified by the directory (which stores them hashed), then cached
 * briefly by a hash of the token so that a hit is synchronous. Revoking the token or changing
 * its principal drops the entry on every instance.
 */
import { hash } from 'node:crypto';
import { GatehouseError } from '../core/errors.ts';
import type { Identity } from '../gateway/context.ts';
import { ExpiringLru } from './lru-cache.ts';
import { requireEnabledPrincipal } from './principal.ts';
import type { ApiTokenInfo, ApiTokenVerifier, OnInvalidate, PrincipalLookup } from './types.ts';

export const API_TOKEN_PREFIX = 'ghs_';
/** Longest API token looked up; anything longer cannot be one of ours. */
const MAX_API_TOKEN_LENGTH = 256;

export interface ApiTokenAuthenticatorOptions {
  verifier: ApiTokenVerifier;
  principals: PrincipalLookup;
  onInvalidate: OnInvalidate;
  ttlMs: number;
  maxCacheEntries: number;
}

interface CachedApiToken { identity: Identity; tokenId: string; subject: string }

export class ApiTokenAuthenticator {
  readonly #options: ApiTokenAuthenticatorOptions;
  readonly #cache: ExpiringLru<CachedApiToken>;
  readonly #unsubscribe: () => void;
  /**
   * Counts invalidations. A verification during which one arrived caches nothing: it may have
   * read the token or its owner before the revocation the event announces.
   */
  #generation = 0;

  constructor(options: ApiTokenAuthenticatorOptions) {
    this.#options = options;
    this.#cache = new ExpiringLru(options.maxCacheEntries);
    this.#unsubscribe = options.onInvalidate((event) => {
      if (event.type === 'api-token.revoked') {
        this.#generation++;
        this.#cache.deleteWhere((e) => e.tokenId === event.tokenId);
      } else if (event.type === 'principal.changed') {
        this.#generation++;
        this.#cache.deleteWhere((e) => e.subject === event.subject);
      }
    });
  }

  static cacheKey(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  cached(key: string, nowMs = Date.now()): Identity | undefined {
    return this.#cache.get(key, nowMs)?.identity;
  }

  async authenticate(token: string, key: string): Promise<Identity> {
    if (token.length > MAX_API_TOKEN_LENGTH || !/^ghs_[A-Za-z0-9_-]+$/.test(token)) {
      throw new GatehouseError('ERR_AUTHN_API_TOKEN_INVALID', { detail: 'not an API token' });
    }
    const generation = this.#generation;
    let info: ApiTokenInfo | undefined;
    try {
      info = await this.#options.verifier.verifyApiToken(token);
    } catch (error) {
      throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', { detail: 'API token verification failed', cause: error });
    }
    const nowMs = Date.now();
    if (info === undefined) throw new GatehouseError('ERR_AUTHN_API_TOKEN_INVALID', { detail: 'unknown, expired or revoked API token' });
    if (info.expiresAt !== undefined && info.expiresAt * 1000 <= nowMs) {
      throw new GatehouseError('ERR_AUTHN_API_TOKEN_INVALID', { detail: `API token ${info.tokenId} expired` });
    }
    const principal = await requireEnabledPrincipal(this.#options.principals, info.subject);
    const identity: Identity = Object.freeze({
      subject: principal.subject,
      kind: principal.kind,
      // The token's own roles when it has them, so that a narrowed token stays narrow.
      roles: Object.freeze([...(info.roles ?? principal.roles)]),
      method: 'api_token',
      amr: Object.freeze([]),
      authTime: undefined,
      mfaTime: undefined,
      credentialId: info.tokenId,
      issuer: undefined,
      attributes: Object.freeze({ ...principal.attributes }),
      expiresAt: info.expiresAt === undefined ? undefined : info.expiresAt * 1000,
    });
    const until = Math.min(nowMs + this.#options.ttlMs, info.expiresAt === undefined ? Infinity : info.expiresAt * 1000);
    if (generation === this.#generation) this.#cache.set(key, { identity, tokenId: info.tokenId, subject: principal.subject }, until);
    return identity;
  }

  close(): void { this.#unsubscribe(); }
}
