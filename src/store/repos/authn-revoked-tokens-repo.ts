/**
 * Revoked JWT ids (src/authn `RevokedTokenStore`) in SQL: written by the instance that
 * revokes, read by every instance at start. The contract speaks epoch seconds (like `exp`);
 * the column holds epoch milliseconds like every timestamp in the store.
 */
import type { Kysely } from 'kysely';
import { GatehouseError } from '../../core/errors.ts';
import type { RevokedTokenStore } from '../../authn/types.ts';
import type { Database } from '../database.ts';
import { isStorableKey } from './authn-keys.ts';

// Keeps seconds * 1000 inside Number.MAX_SAFE_INTEGER and the int8 range.
const MAX_EXPIRY_SEC = 2 ** 40;

/** @param db the store's `db`, or a transaction. `now` (epoch ms) is the clock for `created_at`. */
export function createAuthnRevokedTokenRepo(db: Kysely<Database>, options: { now?: () => number } = {}): RevokedTokenStore {
  const now = options.now ?? Date.now;
  return {
    async add(jti, expiresAt) {
      if (!isStorableKey(jti)) throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'jti must be 1-512 well-formed characters without NUL' });
      if (!Number.isFinite(expiresAt) || expiresAt < 0 || expiresAt > MAX_EXPIRY_SEC) {
        throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'revocation expiry out of range' });
      }
      const expiresAtMs = Math.ceil(expiresAt) * 1000;
      // Revoking twice keeps the later expiry (a token id reused by a longer-lived token stays revoked).
      await db.insertInto('authn_revoked_tokens')
        .values({ jti, expires_at: expiresAtMs, created_at: now() })
        .onConflict((oc) => oc.column('jti').doUpdateSet((eb) => ({
          expires_at: eb.case().when('authn_revoked_tokens.expires_at', '<', expiresAtMs).then(expiresAtMs).else(eb.ref('authn_revoked_tokens.expires_at')).end(),
        })))
        .execute();
    },

    async listActive(nowSec) {
      const rows = await db.selectFrom('authn_revoked_tokens').select(['jti', 'expires_at']).where('expires_at', '>=', nowSec * 1000).execute();
      return rows.map((r) => ({ jti: r.jti, expiresAt: Math.floor(r.expires_at / 1000) }));
    },

    async prune(nowSec) {
      const result = await db.deleteFrom('authn_revoked_tokens').where('expires_at', '<', nowSec * 1000).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
