/**
 * Pending browser logins of the gateway (src/authn `LoginStateStore`) in SQL, so that the
 * callback may land on another instance than the login start. Rows are keyed by the SHA-256
 * of the login cookie value; `take` is single use even under concurrency (only the one
 * delete that removes the row returns it).
 */
import { hash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { LoginStateStore } from '../../authn/session/session-store.ts';
import type { Database } from '../database.ts';
import { isStorableKey } from './authn-keys.ts';

export interface AuthnLoginStateRepo extends LoginStateStore {
  /** Deletes logins that expired before `nowMs`; returns how many. */
  prune(nowMs: number): Promise<number>;
}

/** @param db the store's `db`, or a transaction. */
export function createAuthnLoginStateRepo(db: Kysely<Database>): AuthnLoginStateRepo {
  const rowId = (id: string) => hash('sha256', id, 'base64url');
  return {
    async put(id, login) {
      await db.insertInto('authn_login_states').values({
        id: rowId(id),
        state: login.state,
        nonce: login.nonce,
        code_verifier: login.codeVerifier,
        return_to: login.returnTo,
        expires_at: login.expiresAt,
      }).execute();
    },

    async take(id, nowMs) {
      if (!isStorableKey(id)) return undefined;
      const key = rowId(id);
      const row = await db.selectFrom('authn_login_states').selectAll().where('id', '=', key).executeTakeFirst();
      if (row === undefined) return undefined;
      const deleted = await db.deleteFrom('authn_login_states').where('id', '=', key).executeTakeFirst();
      // Someone else took it between our read and our delete: theirs, not ours.
      if (deleted.numDeletedRows !== 1n || row.expires_at <= nowMs) return undefined;
      return { state: row.state, nonce: row.nonce, codeVerifier: row.code_verifier, returnTo: row.return_to, expiresAt: row.expires_at };
    },

    async prune(nowMs) {
      const result = await db.deleteFrom('authn_login_states').where('expires_at', '<=', nowMs).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
