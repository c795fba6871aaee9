/**
 * Seen DPoP proofs (src/authn `ReplayCache`) in SQL, so that every instance on the database
 * refuses a proof already used on any of them. The primary key makes "first use" atomic:
 * of two instances inserting the same proof at once, exactly one inserts a row.
 */
import type { Kysely } from 'kysely';
import type { ReplayCache } from '../../authn/dpop/replay-cache.ts';
import type { Database } from '../database.ts';
import { isStorableKey } from './authn-keys.ts';

export interface AuthnDpopProofRepo extends ReplayCache {
  /** Deletes records expired at `nowMs`; returns how many. */
  prune(nowMs: number): Promise<number>;
}

/** @param now clock in epoch ms (tests inject one). */
export function createAuthnDpopProofRepo(db: Kysely<Database>, options: { now?: () => number } = {}): AuthnDpopProofRepo {
  const now = options.now ?? Date.now;
  return {
    async firstUse(key, expiresAtMs) {
      // Not storable cannot be remembered; refusing is the only safe answer.
      if (!isStorableKey(key) || !Number.isFinite(expiresAtMs)) return false;
      // An expired record of the same key is not a replay; clear it so the insert can win.
      await db.deleteFrom('authn_dpop_proofs').where('id', '=', key).where('expires_at', '<=', now()).execute();
      const result = await db.insertInto('authn_dpop_proofs')
        // A proof's iat may be fractional; PostgreSQL's int8 refuses a fraction (SQLite took it).
        .values({ id: key, expires_at: Math.ceil(expiresAtMs) })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async prune(nowMs) {
      const result = await db.deleteFrom('authn_dpop_proofs').where('expires_at', '<=', nowMs).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
