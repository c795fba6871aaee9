/**
 * Raw reads on a PostgreSQL store's pg Pool, for the rare read whose per-row cost is the
 * work itself (and one raw write, the audit log's append as one Query message,
 * copy-transaction.ts): `audit verify` reads every record of the log once, and pg's row objects
 * (19 named properties each) plus Kysely's result handling cost as much CPU as the
 * hashing. Two forms: rows as arrays (`rowMode: 'array'`, values parsed by the pool's
 * type parsers, so int8 is a number exactly as through Kysely), and a binary COPY
 * (binary-copy.ts: the column bytes, no value parsed at all).
 *
 * Reached through the store's own `db` (openStore registers it; there is no public
 * handle on the pool), and guarded as the query builder is (guarded-dialect.ts): refused
 * once the store is closed, refused on the root store inside `store.transaction()`, and
 * every driver error leaves as a GatehouseError with the store's codes.
 */
import type pg from 'pg';
import { GatehouseError } from '../../core/errors.ts';
import { transactionScope } from '../guarded-dialect.ts';
import { toStoreError } from '../store-errors.ts';
import { binaryCopy, type BinaryRows, type BinaryRowsBuffer } from './binary-copy.ts';
import { copyTransaction } from './copy-transaction.ts';

/** One statement with `$n` parameters; its rows as arrays in select-list order. */
export type ArrayQuery = (text: string, values: readonly unknown[]) => Promise<unknown[][]>;

/**
 * `COPY (<select>) TO STDOUT (FORMAT binary)` of a select without parameters (literals
 * escaped by the caller), each row `fields` fields, read into `into` (binary-copy.ts).
 */
export type BinaryCopyQuery = (select: string, fields: number, into: BinaryRowsBuffer) => Promise<BinaryRows>;

/** `BEGIN; …; COPY … FROM STDIN; COMMIT` as one Query message with `data` as the rows (copy-transaction.ts). */
export type CopyTransaction = (text: string, data: Buffer) => Promise<number>;

interface RawReads { query: ArrayQuery; copy: BinaryCopyQuery; transaction: CopyTransaction }

const registered = new WeakMap<object, RawReads>();

/** Called by openStore for a PostgreSQL store's root `db`. */
export function registerArrayQuery(db: object, pool: pg.Pool, owner: symbol, isClosed: () => boolean): void {
  const guarded = async <T>(run: () => Promise<T>): Promise<T> => {
    if (transactionScope.getStore() === owner) {
      throw new GatehouseError('ERR_INTERNAL', { detail: 'store.db used inside store.transaction(); use the transaction object passed to the callback' });
    }
    if (isClosed()) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'store is closed' });
    try {
      return await run();
    } catch (error) {
      throw toStoreError(error);
    }
  };
  registered.set(db, {
    query: (text, values) => guarded(async () => (await pool.query<unknown[]>({ text, values: values as unknown[], rowMode: 'array' })).rows),
    copy: (select, fields, into) => guarded(() => binaryCopy(pool, select, fields, into)),
    transaction: (text, data) => guarded(() => copyTransaction(pool, text, data)),
  });
}

/** The array query of a PostgreSQL store's root `db`; undefined for SQLite or a transaction. */
export function arrayQueryOf(db: object): ArrayQuery | undefined {
  return registered.get(db)?.query;
}

/** The binary COPY reader of a PostgreSQL store's root `db`; undefined for SQLite or a transaction. */
export function binaryCopyOf(db: object): BinaryCopyQuery | undefined {
  return registered.get(db)?.copy;
}

/** The one-message COPY transaction of a PostgreSQL store's root `db`; undefined for SQLite or a transaction. */
export function copyTransactionOf(db: object): CopyTransaction | undefined {
  return registered.get(db)?.transaction;
}
