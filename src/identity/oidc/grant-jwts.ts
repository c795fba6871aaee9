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
 * Each one is recorded under its client too (namespace `identity:client-jwt`), grant or not
 * (client-credentials tokens have none): removing or disabling a client revokes them all
 * (`revokeClient`), and a client registered again under the same id does not make them good
 * again.
 *
 * Issuance that races a revocation: `record` writes the records and only then checks that the
 * grant still exists and the client is still there and enabled; `revokeGrant` deletes the grant,
 * and removing or disabling a client changes the client, and only then are the records listed.
 * Either the issuer sees the grant or client gone (and issues nothing), or its record was
 * written before that change, and so before the list that revokes it.
 */
import { errors } from 'oidc-provider';
import type { RevokedTokenStore } from '../../authn/types.ts';
import type { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import type { KvRecord, KvRepo } from '../../store/repos/kv-repo.ts';

export const GRANT_JWT_NAMESPACE = 'identity:grant-jwt';
export const CLIENT_JWT_NAMESPACE = 'identity:client-jwt';

/**
 * The key a client's records are listed by, in the kv's grant-id column (the only list the
 * store offers). No grant id of oidc-provider (base64url) contains `:`, so none is a client's.
 */
export function clientIndexKey(clientId: string): string {
  return `client:${clientId}`;
}

/**
 * How long past `exp` a record (and so a revocation) is kept: the largest `clockSkewSec` a
 * gateway may accept a token with after its `exp` (the config schema's maximum).
 */
const RETAIN_AFTER_EXP_SEC = 300;

/** A JWT access token the gateway must refuse from now on. */
export interface RevokedGrantJwt { issuer: string; jti: string; expiresAt: number }

export interface GrantJwtsOptions {
  kv: KvRepo;
  /** Where issuance checks that the client is still there and enabled. */
  clients: Pick<IdentityClientsRepo, 'find'>;
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
  readonly #clients: Pick<IdentityClientsRepo, 'find'>;
  readonly #revoked: Pick<RevokedTokenStore, 'add'>;
  readonly #issuer: string;
  readonly #announce: (jwt: RevokedGrantJwt) => void;
  readonly #now: () => number;

  constructor(options: GrantJwtsOptions) {
    this.#kv = options.kv;
    this.#clients = options.clients;
    this.#revoked = options.revoked;
    this.#issuer = options.issuer;
    this.#announce = options.announce;
    this.#now = options.now ?? Date.now;
  }

  /**
   * oidc-provider's `formats.customizers.jwt`, run before the token is signed: records a JWT
   * under its grant (if any) and its client. Throws — and so no token is issued — when a record
   * cannot be written, or when the grant was revoked or the client removed or disabled meanwhile.
   */
  async record(token: { grantId?: unknown; clientId?: unknown }, payload: { jti?: unknown; exp?: unknown }): Promise<void> {
    const { grantId, clientId } = token;
    const { jti, exp } = payload;
    if (typeof jti !== 'string' || typeof exp !== 'number' || !Number.isFinite(exp)) throw new Error('a JWT access token has no jti or exp');
    const ttlSec = Math.max(0, exp - this.#now() / 1000) + RETAIN_AFTER_EXP_SEC;
    if (typeof grantId === 'string') await this.#kv.upsert(GRANT_JWT_NAMESPACE, jti, { jti, exp }, ttlSec, { grantId });
    if (typeof clientId === 'string') await this.#kv.upsert(CLIENT_JWT_NAMESPACE, jti, { jti, exp }, ttlSec, { grantId: clientIndexKey(clientId) });
    if (typeof grantId === 'string' && (await this.#kv.find('oidc:Grant', grantId)) === undefined) throw new errors.InvalidGrant!('grant not found');
    if (typeof clientId === 'string') {
      const client = await this.#clients.find(clientId);
      if (!client || client.disabled) throw new errors.InvalidClient!('client not found');
    }
  }

  /**
   * Revokes at the gateway every JWT access token of the grant that can still be accepted;
   * returns how many. Revoking one twice is harmless (the store keeps one entry).
   */
  async revoke(grantId: string): Promise<number> {
    return this.#revokeRecords(await this.#kv.findByGrantId(GRANT_JWT_NAMESPACE, grantId));
  }

  /**
   * Revokes at the gateway every JWT access token issued to the client that can still be
   * accepted, with a grant or without, and those recorded under `grantIds` (its grants); returns
   * how many. Call after the client was removed or disabled and those grants deleted (see the
   * file's comment).
   */
  async revokeClient(clientId: string, grantIds: readonly string[] = []): Promise<number> {
    const records = await this.#kv.findByGrantId(CLIENT_JWT_NAMESPACE, clientIndexKey(clientId));
    for (const grantId of grantIds) records.push(...(await this.#kv.findByGrantId(GRANT_JWT_NAMESPACE, grantId)));
    return this.#revokeRecords(records);
  }

  async #revokeRecords(records: KvRecord[]): Promise<number> {
    const oldest = this.#now() / 1000 - RETAIN_AFTER_EXP_SEC;
    // By jti: a token of a client's grant is recorded under both.
    const jwts = new Map<string, RevokedGrantJwt>();
    for (const record of records) {
      const { jti, exp } = (record.payload ?? {}) as { jti?: unknown; exp?: unknown };
      if (typeof jti === 'string' && typeof exp === 'number' && exp >= oldest) jwts.set(jti, { issuer: this.#issuer, jti, expiresAt: exp });
    }
    // The store first: it is what an instance that misses the announcement reads.
    for (const jwt of jwts.values()) await this.#revoked.add(jwt.issuer, jwt.jti, jwt.expiresAt);
    for (const jwt of jwts.values()) this.#announce(jwt);
    return jwts.size;
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
