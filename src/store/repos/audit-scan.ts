/**
 * The read side of `audit verify`: every record of a chain in seq order, in large keyset
 * pages, as plain arrays instead of objects.
 *
 * Verification reads each record once and hashes it, so the per-row cost of the read is
 * most of the work. Two things make it cheap:
 * - SQLite: a prepared statement on the store's own connection (shared per file, see
 *   shared-sqlite.ts) with `setReturnArrays`: `node:sqlite` builds a row object through a
 *   dictionary of names, which costs more than the hash itself; arrays do not.
 * - PostgreSQL: rows as arrays straight from the store's pg Pool (postgres/array-query.ts):
 *   pg's row objects and Kysely's result handling cost about as much as the hash. The next
 *   page is requested as soon as a page arrives (its last seq is the next key), so the
 *   server reads and sends it while the caller hashes this one. A store opened otherwise
 *   (no registered pool) goes through the query builder.
 *
 * On PostgreSQL the same pages are also available as the column bytes of a binary COPY
 * (`scanAuditRecordBytes`, postgres/binary-copy.ts): no value becomes a JS string, which
 * is most of what the array rows still cost; audit/raw-row-hash.ts hashes those bytes.
 *
 * A page is asked for as a seq range, `after < seq <= after + pageSize`, not only as
 * `seq > after … limit pageSize`: seqs of an intact chain are dense, so the range holds
 * exactly the page, and its cost cannot depend on the planner's statistics. Right after a
 * large append PostgreSQL has none yet, and planned the open-ended form as a bitmap scan
 * of every later record plus a sort, for each page: quadratic in the chain's length. Only
 * after a short range (a gap, or the end) is the open-ended form used, once, to find what
 * follows.
 */
import type { StatementSync } from 'node:sqlite';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { arrayQueryOf, binaryCopyOf, type ArrayQuery, type BinaryCopyQuery } from '../postgres/array-query.ts';
import { binaryRowsBuffer, type BinaryRows } from '../postgres/binary-copy.ts';
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

/** Positions in {@link AuditScanRow} (and fields of an {@link AuditBytePage} row) that the verifier reads by index. */
export const SCAN_ACTOR = 1;
export const SCAN_TIME = 15;
export const SCAN_PREV_HASH = 11;
export const SCAN_SEQ = 17;
export const SCAN_HASH = 18;

const COLUMNS = [
  'action', 'actor', 'actor_kind', 'chain', 'client_address', 'decision_id', 'details', 'event', 'event_id', 'instance', 'outcome',
  'prev_hash', 'reasons', 'request_id', 'resource', 'time', 'trace_id', 'seq', 'hash',
] as const;

const SELECT = `select ${COLUMNS.join(', ')} from audit_records where chain = ? and seq > ?`;
const RANGE_SQL = `${SELECT} and seq <= ? order by seq limit ?`;
const NEXT_SQL = `${SELECT} order by seq limit ?`;
const PG_SELECT = `select ${COLUMNS.join(', ')} from audit_records where chain = $1 and seq > $2`;
const PG_RANGE_SQL = `${PG_SELECT} and seq <= $3 order by seq limit $4`;
const PG_NEXT_SQL = `${PG_SELECT} order by seq limit $3`;

/**
 * A page of records as column bytes: each row's fields in {@link AuditScanRow} order;
 * text as its UTF-8 bytes, `time` and `seq` as 8-byte big-endian integers, null as
 * length -1. `seqs` holds each row's seq as a number (NaN: not a safe integer), its first
 * `length` entries. The memory is reused: a page is valid until the next is asked for.
 */
export interface AuditBytePage extends BinaryRows {
  readonly seqs: Float64Array;
}

/** One page: the range after `after` (`bounded`), or the next `pageSize` records wherever they are. */
type FetchPage<P> = (after: number, bounded: boolean) => P | Promise<P>;
interface Page { readonly length: number }

/**
 * Pages of the records of `chain` with seq > `afterSeq`, in seq order, until nothing
 * follows (records appended meanwhile are read too, as a page-by-page reader would).
 * Stopping early (break, return, throw in the loop) releases what the scan holds.
 */
export async function* scanAuditRecords(db: Kysely<Database>, dialect: StoreDialect, chain: string, afterSeq: number, pageSize: number): AsyncGenerator<AuditScanRow[]> {
  const sqlite = dialect === 'sqlite' ? await sharedSqlite(db) : undefined;
  if (sqlite) {
    try {
      yield* walk(sqliteFetch(sqlite, chain, pageSize), lastScanSeq, afterSeq, pageSize, false);
    } finally {
      sqlite.release();
    }
    return;
  }
  const query = arrayQueryOf(db);
  yield* walk(query ? postgresFetch(query, chain, pageSize) : kyselyFetch(db, chain, pageSize), lastScanSeq, afterSeq, pageSize, true);
}

/**
 * The same pages as {@link scanAuditRecords} (same ranges, same order) as column bytes;
 * undefined where there is no such reader (SQLite, a store not opened by openStore).
 */
export function scanAuditRecordBytes(db: Kysely<Database>, chain: string, afterSeq: number, pageSize: number): AsyncGenerator<AuditBytePage> | undefined {
  const copy = binaryCopyOf(db);
  // The chain goes into the statement as a literal; a name PostgreSQL text cannot hold (NUL, a
  // lone surrogate) is left to the parameterised reader, which fails on it as it always did.
  if (chain.includes('\0') || !chain.isWellFormed()) return undefined;
  return copy ? walk(bytesFetch(copy, chain, pageSize), (p) => p.seqs[p.length - 1]!, afterSeq, pageSize, true) : undefined;
}

const lastScanSeq = (page: AuditScanRow[]): number => page[page.length - 1]![SCAN_SEQ];

/**
 * Ranges while they come back full; after a short one, the next records wherever they are
 * (none: the end). With `prefetch` the next page is requested before this one is handed
 * out, so an asynchronous backend fetches it while the caller works; a synchronous one
 * (node:sqlite) would only hold two pages in memory for nothing.
 */
async function* walk<P extends Page>(fetch: FetchPage<P>, lastSeq: (page: P) => number, afterSeq: number, pageSize: number, prefetch: boolean): AsyncGenerator<P> {
  const request = (after: number, bounded: boolean): Promise<P> => {
    const pending = Promise.resolve(fetch(after, bounded));
    // A prefetch the caller never awaits (it stopped early) must not become an unhandled rejection.
    pending.catch(() => {});
    return pending;
  };
  let after = afterSeq;
  let bounded = true;
  let next = request(after, bounded);
  for (;;) {
    const page = await next;
    if (page.length === 0) {
      if (!bounded) return;
      bounded = false;
      next = request(after, bounded);
      continue;
    }
    after = lastSeq(page);
    bounded = page.length === pageSize;
    if (prefetch) next = request(after, bounded);
    yield page;
    if (!prefetch) next = request(after, bounded);
  }
}

/**
 * The store's own `DatabaseSync` for this file: `acquireSqlite` hands out the connection
 * the store already holds (one per file per process), with the mutex its transactions
 * hold. An in-memory database (no file) has no shareable handle: undefined.
 */
export async function sharedSqlite(db: Kysely<Database>): Promise<SqliteHandle | undefined> {
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

function sqliteFetch(handle: SqliteHandle, chain: string, pageSize: number): FetchPage<AuditScanRow[]> {
  let range: StatementSync;
  let next: StatementSync;
  try {
    range = handle.db.prepare(RANGE_SQL);
    next = handle.db.prepare(NEXT_SQL);
    range.setReturnArrays(true);
    next.setReturnArrays(true);
  } catch (error) {
    throw toStoreError(error);
  }
  return async (after, bounded) => {
    // Under the store's mutex: never in the middle of one of its transactions (on this
    // same connection, a read there would see its uncommitted rows).
    await handle.mutex.lock();
    try {
      const rows = bounded ? range.all(chain, after, after + pageSize, pageSize) : next.all(chain, after, pageSize);
      return rows as unknown as AuditScanRow[];
    } catch (error) {
      throw toStoreError(error);
    } finally {
      handle.mutex.unlock();
    }
  };
}

function postgresFetch(query: ArrayQuery, chain: string, pageSize: number): FetchPage<AuditScanRow[]> {
  return async (after, bounded) => {
    // Columns in AuditScanRow order; int8 (time, seq) parsed to numbers by the pool's parser.
    const rows = bounded ? await query(PG_RANGE_SQL, [chain, after, after + pageSize, pageSize]) : await query(PG_NEXT_SQL, [chain, after, pageSize]);
    return rows as AuditScanRow[];
  };
}

function kyselyFetch(db: Kysely<Database>, chain: string, pageSize: number): FetchPage<AuditScanRow[]> {
  return async (after, bounded) => {
    let q = db.selectFrom('audit_records').select(COLUMNS).where('chain', '=', chain).where('seq', '>', after);
    if (bounded) q = q.where('seq', '<=', after + pageSize);
    const rows = await q.orderBy('seq').limit(pageSize).execute();
    return rows.map((r): AuditScanRow => [
      r.action, r.actor, r.actor_kind, r.chain, r.client_address, r.decision_id, r.details, r.event, r.event_id, r.instance, r.outcome,
      r.prev_hash, r.reasons, r.request_id, r.resource, Number(r.time), r.trace_id, Number(r.seq), r.hash,
    ]);
  };
}

/** Bytes of a typical record on the wire, to size a page's buffer once. */
const ROW_BYTES_HINT = 800;

/**
 * Two buffers taken in turn: the walk has at most two pages out, the one the caller holds
 * and the one being fetched; the next fetch starts only once the caller asked for the next
 * page, so it may reuse the memory of the one before.
 */
function bytesFetch(copy: BinaryCopyQuery, chain: string, pageSize: number): FetchPage<AuditBytePage> {
  // COPY takes no parameters: the chain is an escaped literal, the rest are integers checked here.
  const where = `from audit_records where chain = ${escapeLiteral(chain)}`;
  const slots = [0, 1].map(() => ({ ...binaryRowsBuffer(Math.min(pageSize, 10_000) * ROW_BYTES_HINT, Math.min(pageSize, 10_000), COLUMNS.length), seqs: new Float64Array(0) }));
  let turn = 0;
  return async (after, bounded) => {
    if (!Number.isSafeInteger(after) || !Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError('scan bounds must be safe integers');
    const slot = slots[turn++ % 2]!;
    const select = bounded
      ? `select ${COLUMNS.join(', ')} ${where} and seq > ${after} and seq <= ${after + pageSize} order by seq limit ${pageSize}`
      : `select ${COLUMNS.join(', ')} ${where} and seq > ${after} order by seq limit ${pageSize}`;
    const rows = await copy(select, COLUMNS.length, slot);
    if (slot.seqs.length < rows.length) slot.seqs = new Float64Array(rows.length);
    // NaN for a seq the array reader would refuse: the verifier then reads that page the other way.
    for (let i = 0; i < rows.length; i++) slot.seqs[i] = int8At(rows, i, SCAN_SEQ);
    return { ...rows, seqs: slot.seqs };
  };
}

/** An int8 field of a byte page as a number; NaN for null, a field that is not 8 bytes, or a value outside the safe integers. */
export function int8At(page: BinaryRows, row: number, field: number): number {
  const at = (row * page.fields + field) * 2;
  if (page.spans[at + 1] !== 8) return Number.NaN;
  const start = page.spans[at]!;
  const n = page.data.readInt32BE(start) * 4294967296 + page.data.readUInt32BE(start + 4);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** A string literal for PostgreSQL (standard_conforming_strings on or off: E'' with doubled quotes and backslashes). */
function escapeLiteral(value: string): string {
  return `E'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** The text columns of {@link AuditScanRow}, by position (every field but `time` and `seq`). */
export const SCAN_TEXT_FIELDS: readonly number[] = COLUMNS.map((_, i) => i).filter((i) => i !== SCAN_TIME && i !== SCAN_SEQ);

/**
 * The stored bytes of one record's text columns, in {@link SCAN_TEXT_FIELDS} order (null for
 * null; a value stored as a number comes back as its text's bytes), or undefined when the record
 * is gone. SQLite keeps whatever bytes it is given in a text column, also bytes that are not UTF-8,
 * which read back as U+FFFD: the verifier asks for them when a value reads as that character.
 */
export async function auditRecordTextBytes(db: Kysely<Database>, chain: string, seq: number): Promise<(Uint8Array | null)[] | undefined> {
  const casts = SCAN_TEXT_FIELDS.map((i) => sql`cast(${sql.ref(COLUMNS[i]!)} as blob)`);
  const { rows } = await sql<Record<string, unknown>>`select ${sql.join(casts)} from audit_records where chain = ${chain} and seq = ${seq}`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  return Object.values(row).map((v) => (v === null ? null : v instanceof Uint8Array ? v : new TextEncoder().encode(String(v))));
}
