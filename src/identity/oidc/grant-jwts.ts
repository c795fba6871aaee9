/**
 * The JWT access tokens of each grant, so that revoking the grant revokes them too.
 *
 * oidc-provider stores opaque tokens, codes and refresh tokens, and revoking a grant
 * (replayed code, reused refresh token, RFC 7009, logout) deletes them. A JWT access token
 * is not stored: the gateway verifies it by its signature alone, so it used to survive the
 * revocation of its grant until it expired. Here each one is recorded (kv namespace
 * `identity:grant-jwt`: its `jti` and `exp` under its grant id, kept as long as the token can
 * be accepted) before it is signed, and revoking the grant adds every one still alive to the
 * gateway's revocation list (`authn_revoked_jwts`) and announces it with
 * `authn.invalidated {type: 'token.revoked'}`, as `gatehouse token revoke-jwt` does.
 *
 * Issuance that races a revocation: `record` writes the record and only then checks that the
 * grant still exists; `revokeGrant` deletes the grant and only then lists the records. Either
 * the issuer sees the grant gone (and issues nothing), or its record was written before the
 * grant was deleted, and so before the list that revokes it.
 */
import { errors } from 'oidc-provider';
import type { RevokedTokenStore } from '../../authn/types.ts';
import type { KvRepo } from '../../store/repos/kv-repo.ts';

export const GRANT_JWT_NAMESPACE = 'identity:grant-jwt';

/**
 * How long past `exp` a record (and so a revocation) is kept: the largest `clockSkewSec` a
 * gateway may accept a token with after its `exp` (the config schema's maximum).
 */
const RETAIN_AFTER_EXP_SEC = 300;

/** A JWT access token the gateway must refuse from now on. */
export interface RevokedGrantJwt { issuer: string; jti: string; expiresAt: number }

export interface GrantJwtsOptions {
  kv: KvRepo;
  /** The gateway's revoked-JWT store (`authn_revoked_jwts`). */
  revoked: Pick<RevokedTokenStore, 'add'>;
  /** The provider's issuer: the `iss` of every token it signs. */
  issuer: string;
  /** Tells every gateway instance (`authn.invalidated`); called after the store holds the revocation. */
  announce: (jwt: RevokedGrantJwt) => void;
  /** Clock in epoch ms (tests). */
  now?: () => number;
}

export class GrantJwts {
  readonly #kv: KvRepo;
  readonly #revoked: Pick<RevokedTokenStore, 'add'>;
  readonly #issuer: string;
  readonly #announce: (jwt: RevokedGrantJwt) => void;
  readonly #now: () => number;

  constructor(options: GrantJwtsOptions) {
    this.#kv = options.kv;
    this.#revoked = options.revoked;
    this.#issuer = options.issuer;
    this.#announce = options.announce;
    this.#now = options.now ?? Date.now;
  }

  /**
   * oidc-provider's `formats.customizers.jwt`, run before the token is signed: records a grant's
   * JWT. Throws — and so no token is issued — when the record cannot be written, or when the
   * grant was revoked meanwhile. Tokens of no grant (client credentials) are not recorded:
   * nothing revokes a grant they belong to.
   */
  async record(token: { grantId?: unknown }, payload: { jti?: unknown; exp?: unknown }): Promise<void> {
    const { grantId } = token;
    if (typeof grantId !== 'string') return;
    const { jti, exp } = payload;
    if (typeof jti !== 'string' || typeof exp !== 'number' || !Number.isFinite(exp)) throw new Error('a JWT access token of a grant has no jti or exp');
    const ttlSec = Math.max(0, exp - this.#now() / 1000) + RETAIN_AFTER_EXP_SEC;
    await this.#kv.upsert(GRANT_JWT_NAMESPACE, jti, { jti, exp }, ttlSec, { grantId });
    if ((await this.#kv.find('oidc:Grant', grantId)) === undefined) throw new errors.InvalidGrant!('grant not found');
  }

  /**
   * Revokes at the gateway every JWT access token of the grant that can still be accepted;
   * returns how many. Revoking one twice is harmless (the store keeps one entry).
   */
  async revoke(grantId: string): Promise<number> {
    const oldest = this.#now() / 1000 - RETAIN_AFTER_EXP_SEC;
    const jwts: RevokedGrantJwt[] = [];
    for (const record of await this.#kv.findByGrantId(GRANT_JWT_NAMESPACE, grantId)) {
      const { jti, exp } = (record.payload ?? {}) as { jti?: unknown; exp?: unknown };
      if (typeof jti === 'string' && typeof exp === 'number' && exp >= oldest) jwts.push({ issuer: this.#issuer, jti, expiresAt: exp });
    }
    // The store first: it is what an instance that misses the announcement reads.
    for (const jwt of jwts) await this.#revoked.add(jwt.issuer, jwt.jti, jwt.expiresAt);
    for (const jwt of jwts) this.#announce(jwt);
    return jwts.length;
  }

  /**
   * Revokes a grant: the grant, then its JWT access tokens (in this order, see the file's
   * comment), then every other record of it (codes, refresh and opaque access tokens).
   */
  async revokeGrant(grantId: string): Promise<void> {
    await this.#kv.destroy('oidc:Grant', grantId);
    await this.revoke(grantId);
    await this.#kv.revokeByGrantId(grantId, [GRANT_JWT_NAMESPACE]);
  }
}
