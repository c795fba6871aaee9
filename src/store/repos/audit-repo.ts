/**
 * Storage of the tamper-evident audit log: records, chain heads and signed checkpoints.
 *
 * Appends are serialized per chain by the chain head row: `lockHead` is the first
 * statement of every append transaction (PostgreSQL: `SELECT … FOR UPDATE`; SQLite:
 * the transaction already holds the database write lock from `BEGIN IMMEDIATE`).
 * Sequence numbers and previous hashes are assigned after the lock and inserted in the
 * same transaction, so a failed insert rolls back everything: no gap, no fork.
 */
import { CompiledQuery, sql, type Expression, type Kysely, type Selectable, type SqlBool } from 'kysely';
import type { AuditCheckpoint, AuditOutcome, AuditRecord, ChainHead } from '../../audit/record.ts';
import type { Database } from '../database.ts';
import type { AuditCheckpointsTable, AuditRecordsTable } from '../tables/audit.ts';
import type { StoreDialect } from '../types.ts';
import { escapeLiteral } from 'pg';
import { copyInQuery, copyTextValue } from '../postgres/copy-in.ts';
import { copyTransactionOf } from '../postgres/array-query.ts';
import { GatehouseError } from '../../core/errors.ts';

/** Filter for `query`. Times are epoch ms (inclusive since, exclusive until). */
export interface AuditQueryFilter {
  chain?: string;
  since?: number;
  until?: number;
  /** Any of these actors. */
  actor?: readonly string[];
  action?: string;
  outcome?: string;
  event?: string;
  requestId?: string;
  /** Keyset cursor: only records after this (chain, seq). */
  after?: { chain: string; seq: number };
  limit: number;
}

/**
 * Where a chain's actor index does not say what its records say (`actorIndexProblem`): the mark
 * past the chain head, a record up to the mark without its entry, or an entry up to the mark that
 * gives its record another actor or time.
 */
export type ActorIndexProblem =
  | { kind: 'mark'; mark: number; head: number }
  /** `headless`: the chain has records but no head row, so queries read all of it through the index. */
  | { kind: 'missing'; seq: number; headless: boolean }
  | { kind: 'mismatch'; seq: number };

/** One `audit_actor_index` entry of a chain. */
export interface ActorEntry {
  actor: string;
  time: number;
  seq: number;
}

export interface AuditRepo {
  /** In an append transaction: the chain's head, locked; a new chain starts at `genesis`. */
  lockHead(chain: string, genesis: string): Promise<ChainHead>;
  setHead(head: ChainHead, now: number): Promise<void>;
  /**
   * PostgreSQL, on the root `db`: moves the chain head from `from` to `to` and inserts
   * `records` (which link from `from` to `to`) in one transaction sent as one message, if the
   * head is still `from`. False, with nothing written, when it is not (another writer moved
   * it, or it was rewritten or deleted), and on SQLite or inside a transaction: then append
   * under {@link lockHead}.
   */
  appendAtHead(from: ChainHead, to: ChainHead, records: readonly AuditRecord[], now: number): Promise<boolean>;
  head(chain: string): Promise<ChainHead | undefined>;
  /** The subset of `eventIds` already stored (a replayed or redelivered event is skipped). */
  existingEventIds(eventIds: readonly string[]): Promise<Set<string>>;
  /** Inserts the records as a whole or not at all. */
  insertRecords(records: readonly AuditRecord[]): Promise<void>;
  /** Records of a chain with seq > afterSeq, in seq order (keyset pagination). */
  page(chain: string, afterSeq: number, limit: number): Promise<AuditRecord[]>;
  /** Every chain that has records, a head or checkpoints. */
  chains(): Promise<string[]>;
  firstSeq(chain: string): Promise<number | undefined>;
  /** Details (JSON text) of a chain's records of one event from `fromSeq` on, in seq order (retention markers). */
  eventDetails(chain: string, event: string, fromSeq: number): Promise<string[]>;
  lastSeq(chain: string): Promise<number | undefined>;
  count(chain: string): Promise<number>;
  query(filter: AuditQueryFilter): Promise<AuditRecord[]>;
  /** Deletes a chain's records with seq ≤ `seq`, and their actor index entries (retention). Returns how many records. */
  deleteThrough(chain: string, seq: number): Promise<number>;
  /** Records of the chain with seq ≤ this have their actor index entry (0: none yet, or no head). */
  actorIndexedSeq(chain: string): Promise<number>;
  /** The chain head's seq and actor index mark, read together; undefined: no head row. */
  actorIndexHead(chain: string): Promise<{ seq: number; mark: number } | undefined>;
  /** Actor, time and seq of the chain's records in (afterSeq, throughSeq] that name an actor, in seq order, at most `limit`. */
  actorWindow(chain: string, afterSeq: number, throughSeq: number, limit: number): Promise<ActorEntry[]>;
  /** Adds actor index entries of one chain; an entry already there is left as it is. */
  insertActorEntries(chain: string, entries: readonly ActorEntry[]): Promise<void>;
  /** Removes these actor index entries of one chain (those of records retention cut while they were being inserted). */
  deleteActorEntries(chain: string, entries: readonly ActorEntry[]): Promise<void>;
  /**
   * The chain's actor index as a query by actor reads it (entries up to the head's mark; every
   * entry of a chain without a head) checked against the records, which the hash chain vouches
   * for: the first place where it differs, or undefined. Entries past the mark and entries of
   * records no longer there are never read by a query and are not judged.
   */
  actorIndexProblem(chain: string): Promise<ActorIndexProblem | undefined>;
  /** Moves the chain's actor index mark forward to `seq` (never back). */
  advanceActorIndex(chain: string, seq: number): Promise<void>;
  insertCheckpoint(checkpoint: AuditCheckpoint, now: number): Promise<void>;
  /** Checkpoints of a chain in seq order. */
  checkpoints(chain: string): Promise<AuditCheckpoint[]>;
  /** Deletes checkpoints with seq < `seq` (retention keeps the one the records now start from). */
  deleteCheckpointsBefore(chain: string, seq: number): Promise<number>;
  /** The newest checkpoint whose record time is before `time`: where retention may cut. */
  lastCheckpointBefore(chain: string, time: number): Promise<AuditCheckpoint | undefined>;
}

// SQLite's default limit is 32766 bound values, PostgreSQL's 65535; 19 columns a row.
const INSERT_CHUNK = 1000;

/**
 * The hot insert of the append path is written once here instead of being built by Kysely
 * per batch: building a 1000-row INSERT (19,000 values parsed, compiled and flattened) cost
 * more CPU than SQLite took to store the rows. Column names are constants; every value is a
 * bound parameter.
 */
const RECORD_COLUMNS = 'chain, seq, time, instance, event, event_id, request_id, trace_id, actor, actor_kind, action, resource, outcome, decision_id, reasons, client_address, details, prev_hash, hash';

/**
 * SQLite: multi-row INSERTs of power-of-two sizes (≤ 512 rows), so a batch of any size runs as
 * a few statements whose texts are always the same ten: they stay prepared in the driver's
 * statement cache instead of evicting other queries with one text per batch size.
 */
const sqliteInsertText = new Map<number, string>();
function sqliteInsert(rows: number): string {
  let text = sqliteInsertText.get(rows);
  if (text === undefined) {
    const row = `(${Array.from({ length: 19 }, () => '?').join(', ')})`;
    text = `insert into audit_records (${RECORD_COLUMNS}) values ${Array.from({ length: rows }, () => row).join(', ')}`;
    sqliteInsertText.set(rows, text);
  }
  return text;
}
const SQLITE_MAX_ROWS = 512;

/** Runs `insert(start, rows)` over `count` rows in chunks of power-of-two sizes ≤ SQLITE_MAX_ROWS, largest first. */
async function inSqliteChunks(count: number, insert: (start: number, rows: number) => Promise<void>): Promise<void> {
  let start = 0;
  while (start < count) {
    let rows = SQLITE_MAX_ROWS;
    while (rows > count - start) rows >>= 1;
    await insert(start, rows);
    start += rows;
  }
}

function pushRow(params: unknown[], r: AuditRecord): void {
  params.push(r.chain, r.seq, r.time, r.instance, r.event, r.eventId, r.requestId, r.traceId, r.actor, r.actorKind, r.action,
    r.resource, r.outcome, r.decisionId, r.reasons, r.clientAddress, r.details, r.prevHash, r.hash);
}

/**
 * PostgreSQL: the batch as one `COPY … FROM STDIN` in text format (postgres/copy-in.ts).
 * Measured on this machine against the earlier `INSERT … SELECT FROM json_to_recordset($1)`
 * of the same rows: 9.5–10 µs of server CPU a row against 16–17 with the table's indexes,
 * 3.3 against 10 without. COPY inserts or fails as a whole, like the statement it replaces,
 * and runs in the caller's transaction.
 */
const POSTGRES_COPY = `copy audit_records (${RECORD_COLUMNS}) from stdin`;

function copyRow(r: AuditRecord): string {
  return `${copyTextValue(r.chain)}\t${r.seq}\t${r.time}\t${copyTextValue(r.instance)}\t${copyTextValue(r.event)}\t${copyTextValue(r.eventId)}\t${
    copyTextValue(r.requestId)}\t${copyTextValue(r.traceId)}\t${copyTextValue(r.actor)}\t${copyTextValue(r.actorKind)}\t${copyTextValue(r.action)}\t${
    copyTextValue(r.resource)}\t${copyTextValue(r.outcome)}\t${copyTextValue(r.decisionId)}\t${copyTextValue(r.reasons)}\t${
    copyTextValue(r.clientAddress)}\t${copyTextValue(r.details)}\t${copyTextValue(r.prevHash)}\t${copyTextValue(r.hash)}\n`;
}

/** The check of {@link AuditRepo.appendAtHead} failed: the head was not where the writer left it. */
function headMoved(error: unknown): boolean {
  const cause = error instanceof GatehouseError ? error.cause : error;
  const e = cause as { code?: unknown; table?: unknown; column?: unknown } | undefined;
  return e?.code === '23502' && e.table === 'audit_chain_heads' && e.column === 'seq';
}

/** SQLite: the actor index's multi-row insert, power-of-two sizes like the records'. */
const sqliteActorInsertText = new Map<number, string>();
function sqliteActorInsert(rows: number): string {
  let text = sqliteActorInsertText.get(rows);
  if (text === undefined) {
    text = `insert into audit_actor_index (actor, time, chain, seq) values ${Array.from({ length: rows }, () => '(?, ?, ?, ?)').join(', ')} on conflict do nothing`;
    sqliteActorInsertText.set(rows, text);
  }
  return text;
}

const POSTGRES_ACTOR_INSERT = `insert into audit_actor_index (actor, time, chain, seq)
  select u.actor, u.time, $3, u.seq from unnest($1::text[], $2::int8[], $4::int8[]) as u(actor, time, seq)
  on conflict do nothing`;

/**
 * PostgreSQL: the actor index's entries are almost always new, and a plain COPY of them cost
 * the server about half of what `INSERT … ON CONFLICT DO NOTHING` does (its speculative
 * insertion writes and confirms every row). Entries already there (left by a run that stopped
 * half way) make the COPY fail as a whole on the primary key; it is then undone to a savepoint
 * (the caller's transaction stays usable) and the idempotent insert does the work. False:
 * nothing was inserted, use the idempotent insert.
 */
const POSTGRES_ACTOR_COPY = 'copy audit_actor_index (actor, time, chain, seq) from stdin';

async function copiedActorEntries(db: Kysely<Database>, chain: string, entries: readonly ActorEntry[]): Promise<boolean> {
  const c = copyTextValue(chain);
  let text = '';
  for (const e of entries) text += `${copyTextValue(e.actor)}\t${e.time}\t${c}\t${e.seq}\n`;
  const copy = copyInQuery(POSTGRES_ACTOR_COPY, Buffer.from(text));
  // Outside a transaction the COPY is a statement of its own, undone by failing.
  if (!db.isTransaction) return db.executeQuery(copy).then(() => true, conflictOrThrow);
  await sql`savepoint actor_entries`.execute(db);
  try {
    await db.executeQuery(copy);
  } catch (error) {
    conflictOrThrow(error);
    await sql`rollback to savepoint actor_entries`.execute(db);
    return false;
  }
  await sql`release savepoint actor_entries`.execute(db);
  return true;
}

/** False for a constraint conflict (entries already there); any other error is rethrown. */
function conflictOrThrow(error: unknown): false {
  if (error instanceof GatehouseError && error.code === 'ERR_STORE_CONFLICT') return false;
  throw error;
}

/**
 * The filter's conditions on the records (alias `r`) other than the actor, which each branch of
 * an actor query applies its own way.
 */
function recordConditions(f: AuditQueryFilter): Expression<SqlBool> {
  const c = [sql<SqlBool>`1 = 1`];
  if (f.chain !== undefined) c.push(sql`r.chain = ${f.chain}`);
  if (f.since !== undefined) c.push(sql`r.time >= ${f.since}`);
  if (f.until !== undefined) c.push(sql`r.time < ${f.until}`);
  if (f.action !== undefined) c.push(sql`r.action = ${f.action}`);
  if (f.outcome !== undefined) c.push(sql`r.outcome = ${f.outcome}`);
  if (f.event !== undefined) c.push(sql`r.event = ${f.event}`);
  if (f.requestId !== undefined) c.push(sql`r.request_id = ${f.requestId}`);
  const after = f.after;
  if (after !== undefined) c.push(sql`(r.chain > ${after.chain} or (r.chain = ${after.chain} and r.seq > ${after.seq}))`);
  return sql<SqlBool>`(${sql.join(c, sql` and `)})`;
}

function toRecord(r: Selectable<AuditRecordsTable>): AuditRecord {
  return {
    chain: r.chain, seq: Number(r.seq), time: Number(r.time), instance: r.instance, event: r.event, eventId: r.event_id,
    requestId: r.request_id, traceId: r.trace_id, actor: r.actor, actorKind: r.actor_kind, action: r.action,
    resource: r.resource, outcome: r.outcome as AuditOutcome, decisionId: r.decision_id, reasons: r.reasons,
    clientAddress: r.client_address, details: r.details, prevHash: r.prev_hash, hash: r.hash,
  };
}

function toCheckpoint(r: Selectable<AuditCheckpointsTable>): AuditCheckpoint {
  return { chain: r.chain, seq: Number(r.seq), hash: r.hash, time: Number(r.time), instance: r.instance, kid: r.kid, jws: r.jws };
}

/**
 * @param db the store's `db`, or the transaction of an append.
 * @param dialect `store.dialect`: PostgreSQL needs an explicit row lock, SQLite has none.
 */
/**
 * PostgreSQL's form of `actorIndexProblem`: one statement, a hash full join of the records up to
 * the mark that name an actor and the entries up to the mark, on (seq, actor, time). A record
 * without its exact entry is `missing`; an entry without its exact record is a `mismatch` when
 * its record is there (entries of records no longer stored are not judged). The two-statement
 * form below (an anti-join per record, a join per entry) planned the first as a nested loop of
 * index lookups with a heap fetch each: 5–8 s of a 1,000,000-record verify, against 1.5–3.5 s.
 */
async function postgresActorIndexProblem(db: Kysely<Database>, chain: string, mark: number, headless: boolean): Promise<ActorIndexProblem | undefined> {
  const { rows } = await sql<{ missing: number | string | null; mismatch: number | string | null }>`select
      min(d.rseq) as missing,
      min(d.iseq) filter (where d.rseq is null and exists (select 1 from audit_records x where x.chain = ${chain} and x.seq = d.iseq)) as mismatch
    from (select r.seq as rseq, i.seq as iseq
      from (select seq, actor, time from audit_records where chain = ${chain} and seq <= ${mark} and actor is not null) r
      full join (select seq, actor, time from audit_actor_index where chain = ${chain} and seq <= ${mark}) i
        on r.seq = i.seq and r.actor = i.actor and r.time = i.time
      where r.seq is null or i.seq is null) d`.execute(db);
  const m = rows[0]?.missing != null ? Number(rows[0].missing) : undefined;
  const x = rows[0]?.mismatch != null ? Number(rows[0].mismatch) : undefined;
  if (m !== undefined && (x === undefined || m <= x)) return { kind: 'missing', seq: m, headless };
  return x === undefined ? undefined : { kind: 'mismatch', seq: x };
}

export function createAuditRepo(db: Kysely<Database>, dialect: StoreDialect): AuditRepo {
  return {
    async lockHead(chain, genesis) {
      const select = () => {
        const q = db.selectFrom('audit_chain_heads').select(['chain', 'seq', 'hash']).where('chain', '=', chain);
        return (dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
      };
      // The head row exists after a chain's first append: one statement instead of two per batch.
      let row = await select();
      if (!row) {
        await db.insertInto('audit_chain_heads').values({ chain, seq: 0, hash: genesis, updated_at: Date.now() })
          .onConflict((oc) => oc.column('chain').doNothing()).execute();
        row = await select();
        if (!row) throw new Error(`audit chain head ${chain} vanished`);
      }
      return { chain: row.chain, seq: Number(row.seq), hash: row.hash };
    },

    async appendAtHead(from, to, records, now) {
      const transaction = copyTransactionOf(db);
      if (!transaction) return false;
      const chain = escapeLiteral(from.chain);
      // The head moves only from `from`; the INSERT then finds it at `to` or, if it did not move
      // (or is gone), tries to add a head row with a null seq, which fails the whole message on
      // the column's NOT NULL before anything else is written. No statement returns rows.
      const text = `begin;
update audit_chain_heads set seq = ${to.seq}, hash = ${escapeLiteral(to.hash)}, updated_at = ${now} where chain = ${chain} and seq = ${from.seq} and hash = ${escapeLiteral(from.hash)};
insert into audit_chain_heads (chain, seq, hash, updated_at) select ${chain}, null, '', 0 where not exists (select 1 from audit_chain_heads where chain = ${chain} and seq = ${to.seq} and hash = ${escapeLiteral(to.hash)});
${POSTGRES_COPY};
commit`;
      let rows = '';
      for (const r of records) rows += copyRow(r);
      try {
        await transaction(text, Buffer.from(rows));
        return true;
      } catch (error) {
        if (headMoved(error)) return false;
        throw error;
      }
    },

    async setHead(head, now) {
      await db.updateTable('audit_chain_heads').set({ seq: head.seq, hash: head.hash, updated_at: now }).where('chain', '=', head.chain).execute();
    },

    async head(chain) {
      const row = await db.selectFrom('audit_chain_heads').select(['chain', 'seq', 'hash']).where('chain', '=', chain).executeTakeFirst();
      return row ? { chain: row.chain, seq: Number(row.seq), hash: row.hash } : undefined;
    },

    async existingEventIds(eventIds) {
      const found = new Set<string>();
      for (let i = 0; i < eventIds.length; i += INSERT_CHUNK) {
        const rows = await db.selectFrom('audit_records').select('event_id').where('event_id', 'in', eventIds.slice(i, i + INSERT_CHUNK)).execute();
        for (const r of rows) found.add(r.event_id);
      }
      return found;
    },

    async insertRecords(records) {
      if (dialect === 'postgres') {
        let text = '';
        for (const r of records) text += copyRow(r);
        await db.executeQuery(copyInQuery(POSTGRES_COPY, Buffer.from(text)));
        return;
      }
      await inSqliteChunks(records.length, async (start, rows) => {
        const params: unknown[] = [];
        for (let i = start; i < start + rows; i++) pushRow(params, records[i]!);
        await db.executeQuery(CompiledQuery.raw(sqliteInsert(rows), params));
      });
    },

    async page(chain, afterSeq, limit) {
      const rows = await db.selectFrom('audit_records').selectAll()
        .where('chain', '=', chain).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
      return rows.map(toRecord);
    },

    async chains() {
      const [a, b, c] = await Promise.all([
        db.selectFrom('audit_records').select('chain').distinct().execute(),
        db.selectFrom('audit_chain_heads').select('chain').execute(),
        db.selectFrom('audit_checkpoints').select('chain').distinct().execute(),
      ]);
      return [...new Set([...a, ...b, ...c].map((r) => r.chain))].sort();
    },

    async eventDetails(chain, event, fromSeq) {
      const rows = await db.selectFrom('audit_records').select('details')
        .where('chain', '=', chain).where('event', '=', event).where('seq', '>=', fromSeq).orderBy('seq').execute();
      return rows.map((r) => r.details);
    },

    async firstSeq(chain) {
      const row = await db.selectFrom('audit_records').select('seq').where('chain', '=', chain).orderBy('seq').limit(1).executeTakeFirst();
      return row ? Number(row.seq) : undefined;
    },

    async lastSeq(chain) {
      const row = await db.selectFrom('audit_records').select('seq').where('chain', '=', chain).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      return row ? Number(row.seq) : undefined;
    },

    async count(chain) {
      const row = await db.selectFrom('audit_records').select((eb) => eb.fn.countAll<number>().as('n')).where('chain', '=', chain).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async query(f) {
      if (f.actor !== undefined) {
        const actors = f.actor;
        if (actors.length === 0) return [];
        // Each chain's mark, read once and used by both branches as constants, so that the two
        // partition the records exactly even if a run moves a mark meanwhile; as constants they
        // also give both planners a primary-key range per chain for the tail (with the mark as a
        // join column, PostgreSQL and SQLite each chose to scan every record).
        let marksQuery = db.selectFrom('audit_chain_heads').select(['chain', 'actor_indexed_seq']);
        if (f.chain !== undefined) marksQuery = marksQuery.where('chain', '=', f.chain);
        const marks = (await marksQuery.execute()).map((m) => ({ chain: m.chain, seq: Number(m.actor_indexed_seq) }));
        // Indexed records: entries up to their chain's mark (a bulk run that stopped half way
        // left entries past it, which the tail covers), by the entry's actor and time. Entries of
        // a chain without a head (indexed by migration 0011) all count.
        let indexed = db.selectFrom('audit_actor_index as i')
          .innerJoin('audit_records as r', (j) => j.onRef('r.chain', '=', 'i.chain').onRef('r.seq', '=', 'i.seq'))
          .selectAll('r')
          .where('i.actor', 'in', actors)
          // The record itself must still name the actor: the index is a way in, not the truth.
          .where('r.actor', 'in', actors)
          .where(recordConditions(f));
        if (marks.length) {
          indexed = indexed.where((eb) => eb.or([
            ...marks.map((m) => eb.and([eb('i.chain', '=', m.chain), eb('i.seq', '<=', m.seq)])),
            eb('i.chain', 'not in', marks.map((m) => m.chain)),
          ]));
        }
        if (f.since !== undefined) indexed = indexed.where('i.time', '>=', f.since);
        if (f.until !== undefined) indexed = indexed.where('i.time', '<', f.until);
        if (!marks.length) return (await indexed.orderBy('chain').orderBy('seq').limit(f.limit).execute()).map(toRecord);
        // The tail: each chain's records past its mark, a primary-key range each.
        const tail = db.selectFrom('audit_records as r')
          .selectAll('r')
          .where((eb) => eb.or(marks.map((m) => eb.and([eb('r.chain', '=', m.chain), eb('r.seq', '>', m.seq)]))))
          .where('r.actor', 'in', actors)
          .where(recordConditions(f));
        const rows = await indexed.unionAll(tail).orderBy('chain').orderBy('seq').limit(f.limit).execute();
        return rows.map(toRecord);
      }
      let q = db.selectFrom('audit_records').selectAll();
      if (f.chain !== undefined) q = q.where('chain', '=', f.chain);
      if (f.since !== undefined) q = q.where('time', '>=', f.since);
      if (f.until !== undefined) q = q.where('time', '<', f.until);
      if (f.action !== undefined) q = q.where('action', '=', f.action);
      if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
      if (f.event !== undefined) q = q.where('event', '=', f.event);
      if (f.requestId !== undefined) q = q.where('request_id', '=', f.requestId);
      const after = f.after;
      if (after !== undefined) {
        q = q.where((eb) => eb.or([eb('chain', '>', after.chain), eb.and([eb('chain', '=', after.chain), eb('seq', '>', after.seq)])]));
      }
      const rows = await q.orderBy('chain').orderBy('seq').limit(f.limit).execute();
      return rows.map(toRecord);
    },

    async deleteThrough(chain, seq) {
      // The entries first, found from the records they point at: the index is keyed by actor and
      // time, so each actor of the cut range is one range of it.
      await sql`delete from audit_actor_index where chain = ${chain} and seq <= ${seq}
        and actor in (select distinct actor from audit_records where chain = ${chain} and seq <= ${seq} and actor is not null)
        and time <= (select max(time) from audit_records where chain = ${chain} and seq <= ${seq})`.execute(db);
      const r = await db.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '<=', seq).executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    async actorIndexHead(chain) {
      const row = await db.selectFrom('audit_chain_heads').select(['seq', 'actor_indexed_seq']).where('chain', '=', chain).executeTakeFirst();
      return row ? { seq: Number(row.seq), mark: Number(row.actor_indexed_seq) } : undefined;
    },

    async actorIndexedSeq(chain) {
      const row = await db.selectFrom('audit_chain_heads').select('actor_indexed_seq').where('chain', '=', chain).executeTakeFirst();
      return row ? Number(row.actor_indexed_seq) : 0;
    },

    async actorWindow(chain, afterSeq, throughSeq, limit) {
      const rows = await db.selectFrom('audit_records').select(['actor', 'time', 'seq'])
        .where('chain', '=', chain).where('seq', '>', afterSeq).where('seq', '<=', throughSeq).where('actor', 'is not', null)
        .orderBy('seq').limit(limit).execute();
      return rows.map((r) => ({ actor: r.actor!, time: Number(r.time), seq: Number(r.seq) }));
    },

    async insertActorEntries(chain, entries) {
      if (dialect === 'postgres') {
        if (await copiedActorEntries(db, chain, entries)) return;
        for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
          const part = entries.slice(i, i + INSERT_CHUNK);
          await db.executeQuery(CompiledQuery.raw(POSTGRES_ACTOR_INSERT, [part.map((e) => e.actor), part.map((e) => e.time), chain, part.map((e) => e.seq)]));
        }
        return;
      }
      await inSqliteChunks(entries.length, async (start, rows) => {
        const params: unknown[] = [];
        for (let i = start; i < start + rows; i++) {
          const e = entries[i]!;
          params.push(e.actor, e.time, chain, e.seq);
        }
        await db.executeQuery(CompiledQuery.raw(sqliteActorInsert(rows), params));
      });
    },

    async deleteActorEntries(chain, entries) {
      for (let i = 0; i < entries.length; i += 500) {
        const part = entries.slice(i, i + 500);
        await db.deleteFrom('audit_actor_index').where('chain', '=', chain)
          .where((eb) => eb.or(part.map((e) => eb.and([eb('actor', '=', e.actor), eb('time', '=', e.time), eb('seq', '=', e.seq)])))).execute();
      }
    },

    async actorIndexProblem(chain) {
      // Head and mark from one row: a run moves the mark only up to a head it saw committed.
      const head = await db.selectFrom('audit_chain_heads').select(['seq', 'actor_indexed_seq']).where('chain', '=', chain).executeTakeFirst();
      // query() reads a chain without a head from the index alone, as if it were indexed to the end.
      const mark = head ? Number(head.actor_indexed_seq) : Number.MAX_SAFE_INTEGER;
      if (head && mark > Number(head.seq)) return { kind: 'mark', mark, head: Number(head.seq) };
      if (dialect === 'postgres') return postgresActorIndexProblem(db, chain, mark, !head);
      // Each a single statement (one snapshot): retention deletes records and their entries together.
      const missing = await sql<{ seq: number | string }>`select r.seq from audit_records r
        where r.chain = ${chain} and r.seq <= ${mark} and r.actor is not null
        and not exists (select 1 from audit_actor_index i where i.actor = r.actor and i.time = r.time and i.chain = r.chain and i.seq = r.seq)
        order by r.seq limit 1`.execute(db);
      // SQLite (no hash joins; verify asks this only when its own pass is in doubt, actor-index-check.ts):
      // driven from the entries, each record found by its primary key. The index has no (chain, seq)
      // key, so a plan driven from the records scans it once per record, quadratic in the chain:
      // SQLite chose that for a plain join (CROSS JOIN fixes its order: entries outside).
      const mismatch = await sql<{ seq: number | string | null }>`select min(i.seq) as seq from audit_actor_index i cross join audit_records r
        where r.chain = i.chain and r.seq = i.seq and i.chain = ${chain} and i.seq <= ${mark}
        and (r.actor is null or r.actor <> i.actor or r.time <> i.time)`.execute(db);
      const m = missing.rows[0] ? Number(missing.rows[0].seq) : undefined;
      const x = mismatch.rows[0]?.seq != null ? Number(mismatch.rows[0].seq) : undefined;
      if (m !== undefined && (x === undefined || m <= x)) return { kind: 'missing', seq: m, headless: !head };
      return x === undefined ? undefined : { kind: 'mismatch', seq: x };
    },

    async advanceActorIndex(chain, seq) {
      await db.updateTable('audit_chain_heads').set({ actor_indexed_seq: seq }).where('chain', '=', chain).where('actor_indexed_seq', '<', seq).execute();
    },

    async insertCheckpoint(c, now) {
      await db.insertInto('audit_checkpoints').values({ chain: c.chain, seq: c.seq, hash: c.hash, time: c.time, instance: c.instance, kid: c.kid, jws: c.jws, created_at: now })
        .onConflict((oc) => oc.columns(['chain', 'seq']).doNothing()).execute();
    },

    async checkpoints(chain) {
      const rows = await db.selectFrom('audit_checkpoints').selectAll().where('chain', '=', chain).orderBy('seq').execute();
      return rows.map(toCheckpoint);
    },

    async deleteCheckpointsBefore(chain, seq) {
      const r = await db.deleteFrom('audit_checkpoints').where('chain', '=', chain).where('seq', '<', seq).executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    async lastCheckpointBefore(chain, time) {
      // The checkpoint's own record must be older than `time`: join on (chain, seq).
      const row = await db.selectFrom('audit_checkpoints as c')
        .innerJoin('audit_records as r', (j) => j.onRef('r.chain', '=', 'c.chain').onRef('r.seq', '=', 'c.seq'))
        .selectAll('c').where('c.chain', '=', chain).where('r.time', '<', time)
        .orderBy('c.seq', 'desc').limit(1).executeTakeFirst();
      return row ? toCheckpoint(row) : undefined;
    },
  };
}
