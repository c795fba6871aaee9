/**
 * The read side of `audit verify`: every record of a chain in seq order, in large keyset
 * pages, as plain arrays instead of objects.
 *
 * Verification reads each record once and hashes it, so the per-row cost of the read is
 * most of the work. Two things make it cheap:
 * - SQLite: a prepared statement on the store's own connection (shared per file, see
 *   shared-sqlite.ts) with `setReturnArrays`: `node:sqlite` builds a row object through a
 *   dictionary of names, which costs more than the hash itself; arrays do not.
 * - PostgreSQL: the next page is requested as soon as a page arrives (its last seq is the
 *   next key), so the server reads and sends it while the caller hashes this one.
 */
import type { StatementSync } from 'node:sqlite';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { acquireSqlite, type SqliteHandle } from '../sqlite/shared-sqlite.ts';
import { toStoreError } from '../store-errors.ts';
import type { StoreDialect } from '../types.ts';

/**
 * One record as the scan returns it: the hashed fields in the key order of the canonical
 * hash input (RFC 8785 sorts keys: action … traceId, see src/audit/hash.ts), then seq and hash.
 */
export type AuditScanRow = [
  action: string, actor: string | null, actorKind: string | null, chain: string, clientAddress: string | null,
  decisionId: string | null, details: string, event: string, eventId: string, instance: string, outcome: string,
  prevHash: string, reasons: string | null, requestId: string | null, resource: string | null, time: number,
  traceId: string | null, seq: number, hash: string,
];

/** Positions in {@link AuditScanRow} that the verifier reads by index. */
export const SCAN_PREV_HASH = 11;
export const SCAN_SEQ = 17;
export const SCAN_HASH = 18;

const COLUMNS = [
  'action', 'actor', 'actor_kind', 'chain', 'client_address', 'decision_id', 'details', 'event', 'event_id', 'instance', 'outcome',
  'prev_hash', 'reasons', 'request_id', 'resource', 'time', 'trace_id', 'seq', 'hash',
] as const;

const PAGE_SQL = `select ${COLUMNS.join(', ')} from audit_records where chain = ? and seq > ? order by seq limit ?`;

/**
 * Pages of the records of `chain` with seq > `afterSeq`, in seq order, until a page comes
 * back empty (records appended meanwhile are read too, as a page-by-page reader would).
 * Stopping early (break, return, throw in the loop) releases what the scan holds.
 */
export async function* scanAuditRecords(db: Kysely<Database>, dialect: StoreDialect, chain: string, afterSeq: number, pageSize: number): AsyncGenerator<AuditScanRow[]> {
  const sqlite = dialect === 'sqlite' ? await sharedSqlite(db) : undefined;
  if (sqlite) {
    try {
      yield* sqlitePages(sqlite, chain, afterSeq, pageSize);
    } finally {
      sqlite.release();
    }
    return;
  }
  yield* kyselyPages(db, chain, afterSeq, pageSize);
}

/**
 * The store's own `DatabaseSync` for this file: `acquireSqlite` hands out the connection
 * the store already holds (one per file per process), with the mutex its transactions
 * hold. An in-memory database (no file) has no shareable handle: undefined.
 */
async function sharedSqlite(db: Kysely<Database>): Promise<SqliteHandle | undefined> {
  const { rows } = await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(db);
  const file = rows[0]?.file;
  if (!file) return undefined;
  try {
    // The store holds this file open, so this is a new reference to the same connection
    // (busy timeout only applies if it were not).
    return acquireSqlite(file, { busyTimeoutMs: 5000 });
  } catch (error) {
    throw toStoreError(error);
  }
}

async function* sqlitePages(handle: SqliteHandle, chain: string, afterSeq: number, pageSize: number): AsyncGenerator<AuditScanRow[]> {
  let stmt: StatementSync;
  try {
    stmt = handle.db.prepare(PAGE_SQL);
    stmt.setReturnArrays(true);
  } catch (error) {
    throw toStoreError(error);
  }
  let after = afterSeq;
  for (;;) {
    // Under the store's mutex: never in the middle of one of its transactions (on this
    // same connection, a read there would see its uncommitted rows).
    await handle.mutex.lock();
    let page: AuditScanRow[];
    try {
      page = stmt.all(chain, after, pageSize) as unknown as AuditScanRow[];
    } catch (error) {
      throw toStoreError(error);
    } finally {
      handle.mutex.unlock();
    }
    if (page.length === 0) return;
    after = page[page.length - 1]![SCAN_SEQ];
    yield page;
  }
}

async function* kyselyPages(db: Kysely<Database>, chain: string, afterSeq: number, pageSize: number): AsyncGenerator<AuditScanRow[]> {
  const fetch = (after: number): Promise<AuditScanRow[]> => {
    const pending = db.selectFrom('audit_records').select(COLUMNS).where('chain', '=', chain).where('seq', '>', after).orderBy('seq').limit(pageSize).execute()
      .then((rows) => rows.map((r): AuditScanRow => [
        r.action, r.actor, r.actor_kind, r.chain, r.client_address, r.decision_id, r.details, r.event, r.event_id, r.instance, r.outcome,
        r.prev_hash, r.reasons, r.request_id, r.resource, Number(r.time), r.trace_id, Number(r.seq), r.hash,
      ]));
    // A prefetch the caller never awaits (it stopped early) must not become an unhandled rejection.
    pending.catch(() => {});
    return pending;
  };
  let next = fetch(afterSeq);
  for (;;) {
    const page = await next;
    if (page.length === 0) return;
    next = fetch(page[page.length - 1]![SCAN_SEQ]);
    yield page;
  }
}
