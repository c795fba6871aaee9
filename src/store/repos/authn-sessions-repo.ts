/**
 * Browser sessions of the gateway (src/authn `SessionStore`) in SQL, shared by every
 * instance on the same database. Rows are keyed by the SHA-256 of the cookie value, so a
 * copy of the table hands out no cookies.
 */
import type { Kysely, Selectable } from 'kysely';
import type { GatewaySession, SessionStore } from '../../authn/session/session-store.ts';
import type { Database } from '../database.ts';
import { fromJsonText, toJsonText } from '../json-text.ts';
import type { AuthnSessionsTable } from '../tables/authn.ts';
import { isStorableKey } from './authn-keys.ts';

function toSession(row: Selectable<AuthnSessionsTable>): GatewaySession {
  const amr = fromJsonText(row.amr);
  return {
    id: row.id,
    subject: row.subject,
    issuer: row.issuer,
    amr: Array.isArray(amr) ? amr.filter((m): m is string => typeof m === 'string') : [],
    authTime: row.auth_time ?? undefined,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  };
}

/**
 * `auth_time` comes from an ID token: a JSON number, possibly fractional (PostgreSQL's int8
 * refuses a fraction that SQLite stores) or 1e400. Floored, a login never looks more recent
 * than it was; one that is no time at all is unknown, which asks for a fresh login where
 * it matters.
 */
function wholeSeconds(value: number | undefined): number | null {
  if (value === undefined) return null;
  const seconds = Math.floor(value);
  return Number.isSafeInteger(seconds) ? seconds : null;
}

/**
 * @param db the store's `db`, or a transaction.
 * @example
 *   const sessions = createAuthnSessionRepo(store.db);
 *   createAuthn({ sessionStore: sessions, … });
 */
export function createAuthnSessionRepo(db: Kysely<Database>): SessionStore {
  return {
    async create(session) {
      await db.insertInto('authn_sessions').values({
        id: session.id,
        subject: session.subject,
        issuer: session.issuer,
        amr: toJsonText(session.amr),
        auth_time: wholeSeconds(session.authTime),
        created_at: session.createdAt,
        last_seen_at: session.lastSeenAt,
        expires_at: session.expiresAt,
      }).execute();
    },

    async get(id) {
      if (!isStorableKey(id)) return undefined;
      const row = await db.selectFrom('authn_sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toSession(row);
    },

    async touch(id, lastSeenAt) {
      if (!isStorableKey(id)) return false;
      // Never moves activity backwards: another instance may have recorded a later use.
      const result = await db.updateTable('authn_sessions')
        .set((eb) => ({ last_seen_at: eb.case().when('last_seen_at', '<', lastSeenAt).then(lastSeenAt).else(eb.ref('last_seen_at')).end() }))
        .where('id', '=', id)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async delete(id) {
      if (!isStorableKey(id)) return false;
      const result = await db.deleteFrom('authn_sessions').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async deleteForSubject(subject) {
      if (!isStorableKey(subject)) return [];
      const rows = await db.selectFrom('authn_sessions').select('id').where('subject', '=', subject).execute();
      // Deleting by subject (not by the ids just read) also ends a session created in between.
      await db.deleteFrom('authn_sessions').where('subject', '=', subject).execute();
      return rows.map((r) => r.id);
    },

    async prune(nowMs, idleTimeoutMs) {
      const result = await db.deleteFrom('authn_sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', nowMs), eb('last_seen_at', '<=', nowMs - idleTimeoutMs)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
