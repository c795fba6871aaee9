/**
 * The entries of a chain's actor index in a seq range, for `audit verify`'s check of the index
 * against the records it has just walked (src/audit/actor-index-check.ts), as plain arrays.
 *
 * SQLite only, on the store's own connection (as audit-scan.ts reads the records): pages by
 * rowid, so each page is one short statement under the store's mutex and memory stays bounded.
 * The index has no (chain, seq) key, so every page reads on through the table; the range test
 * costs the C loop a few tens of nanoseconds a row, far less than the per-record primary-key
 * lookups of the SQL form (audit-repo.ts `actorIndexProblem`). Undefined where there is no such
 * reader (PostgreSQL, an in-memory SQLite store): the caller uses the SQL form.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { StoreDialect } from '../types.ts';
import { toStoreError } from '../store-errors.ts';
import { sharedSqlite } from './audit-scan.ts';

/** One entry: actor, time, seq (as stored; the caller checks their types). */
export type ActorEntryRow = [actor: unknown, time: unknown, seq: unknown];

const PAGE_SQL = `select rowid, actor, time, seq from audit_actor_index
  where rowid > ? and chain = ? and seq >= ? and seq <= ? order by rowid limit ?`;

/**
 * Calls `each` for every entry of `chain` with `fromSeq ≤ seq ≤ toSeq`, in no particular order;
 * false when this store has no such reader (nothing was called).
 */
export async function forEachActorEntry(db: Kysely<Database>, dialect: StoreDialect, chain: string, fromSeq: number, toSeq: number, each: (row: ActorEntryRow) => void, pageSize = 20_000): Promise<boolean> {
  if (dialect !== 'sqlite') return false;
  const handle = await sharedSqlite(db);
  if (!handle) return false;
  try {
    const page = handle.db.prepare(PAGE_SQL);
    page.setReturnArrays(true);
    let after = -Infinity;
    for (;;) {
      // Under the store's mutex: never inside one of its transactions on this same connection.
      await handle.mutex.lock();
      let rows: unknown[][];
      try {
        rows = page.all(after, chain, fromSeq, toSeq, pageSize) as unknown as unknown[][];
      } finally {
        handle.mutex.unlock();
      }
      for (const r of rows) each([r[1], r[2], r[3]]);
      if (rows.length < pageSize) return true;
      after = rows[rows.length - 1]![0] as number;
    }
  } catch (error) {
    throw toStoreError(error);
  } finally {
    handle.release();
  }
}
