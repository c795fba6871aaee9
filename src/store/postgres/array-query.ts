/**
 * Raw reads on a PostgreSQL store's pg Pool with rows as arrays (`rowMode: 'array'`), for
 * the rare read whose per-row cost is the work itself: `audit verify` reads every record
 * of the log once, and pg's row objects (19 named properties each) plus Kysely's result
 * handling cost as much CPU as the hashing.
 *
 * Reached through the store's own `db` (openStore registers it; there is no public
 * handle on the pool), and guarded as the query builder is (guarded-dialect.ts): refused
 * once the store is closed, refused on the root store inside `store.transaction()`, and
 * every driver error leaves as a GatehouseError with the store's codes. Values are parsed
 * by the pool's type parsers, so int8 is a number exactly as through Kysely.
 */
import type pg from 'pg';
import { GatehouseError } from '../../core/errors.ts';
import { transactionScope } from '../guarded-dialect.ts';
import { toStoreError } from '../store-errors.ts';

/** One statement with `$n` parameters; its rows as arrays in select-list order. */
export type ArrayQuery = (text: string, values: readonly unknown[]) => Promise<unknown[][]>;

const registered = new WeakMap<object, ArrayQuery>();

/** Called by openStore for a PostgreSQL store's root `db`. */
export function registerArrayQuery(db: object, pool: pg.Pool, owner: symbol, isClosed: () => boolean): void {
  registered.set(db, async (text, values) => {
    if (transactionScope.getStore() === owner) {
      throw new GatehouseError('ERR_INTERNAL', { detail: 'store.db used inside store.transaction(); use the transaction object passed to the callback' });
    }
    if (isClosed()) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'store is closed' });
    try {
      const result = await pool.query<unknown[]>({ text, values: values as unknown[], rowMode: 'array' });
      return result.rows;
    } catch (error) {
      throw toStoreError(error);
    }
  });
}

/** The array query of a PostgreSQL store's root `db`; undefined for SQLite or a transaction. */
export function arrayQueryOf(db: object): ArrayQuery | undefined {
  return registered.get(db);
}
