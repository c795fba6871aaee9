/**
 * Revoked JWTs (src/authn `RevokedTokenStore`) in SQL, by issuer and `jti`: written by the
 * instance that revokes, read by every instance at start. The contract speaks epoch seconds
 * (like `exp`); the column holds epoch milliseconds like every timestamp in the store.
 */
import type { Kysely } from 'kysely';
import { GatehouseError } from '../../core/errors.ts';
import type { RevokedTokenStore } from '../../authn/types.ts';
import type { Database } from '../database.ts';
import { isStorableKey } from './authn-keys.ts';

// Keeps seconds * 1000 inside Number.MAX_SAFE_INTEGER and the int8 range.
const MAX_EXPIRY_SEC = 2 ** 40;

// Issuer and jti together are one primary-key entry: PostgreSQL refuses a b-tree entry over
// about 2.7 kB, so the pair is bounded in UTF-8 bytes (the longest jti, 512 three-byte
// characters, still fits next to an issuer of up to 1 kB).
const MAX_KEY_BYTES = 2560;

/** Issuer of a revocation recorded before revocations named it (migration 0006): any issuer. */
const UNKNOWN_ISSUER = '';

/** @param db the store's `db`, or a transaction. `now` (epoch ms) is the clock for `created_at`. */
export function createAuthnRevokedTokenRepo(db: Kysely<Database>, options: { now?: () => number } = {}): RevokedTokenStore {
  const now = options.now ?? Date.now;
  return {
    async add(issuer, jti, expiresAt) {
      // isStorableKey refuses '' too: no new revocation can claim to be for any issuer.
      if (!isStorableKey(issuer)) throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'issuer must be 1-512 well-formed characters without NUL' });
      if (!isStorableKey(jti)) throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'jti must be 1-512 well-formed characters without NUL' });
      if (Buffer.byteLength(issuer) + Buffer.byteLength(jti) > MAX_KEY_BYTES) throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: `issuer and jti together over ${MAX_KEY_BYTES} bytes` });
      if (!Number.isFinite(expiresAt) || expiresAt < 0 || expiresAt > MAX_EXPIRY_SEC) {
        throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'revocation expiry out of range' });
      }
      const expiresAtMs = Math.ceil(expiresAt) * 1000;
      // Revoking twice keeps the later expiry (a token id reused by a longer-lived token stays revoked).
      await db.insertInto('authn_revoked_jwts')
        .values({ issuer, jti, expires_at: expiresAtMs, created_at: now() })
        .onConflict((oc) => oc.columns(['issuer', 'jti']).doUpdateSet((eb) => ({
          expires_at: eb.case().when('authn_revoked_jwts.expires_at', '<', expiresAtMs).then(expiresAtMs).else(eb.ref('authn_revoked_jwts.expires_at')).end(),
        })))
        .execute();
    },

    async listActive(nowSec) {
      const rows = await db.selectFrom('authn_revoked_jwts').select(['issuer', 'jti', 'expires_at']).where('expires_at', '>=', nowSec * 1000).execute();
      return rows.map((r) => ({ issuer: r.issuer === UNKNOWN_ISSUER ? undefined : r.issuer, jti: r.jti, expiresAt: Math.floor(r.expires_at / 1000) }));
    },

    async prune(nowSec) {
      const result = await db.deleteFrom('authn_revoked_jwts').where('expires_at', '<', nowSec * 1000).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
