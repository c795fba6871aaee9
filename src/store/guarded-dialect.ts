/**
 * Wraps any Kysely dialect so that, whatever the backend:
 * - every driver error leaves the store as a GatehouseError with a stable code
 *   (see {@link toStoreError});
 * - a query on the root `db` from inside `store.transaction()` fails loudly
 *   instead of running outside the transaction (PostgreSQL) or waiting forever
 *   for the connection the transaction holds (SQLite).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  CompiledQuery, DatabaseConnection, DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely,
  QueryCompiler, QueryResult, TransactionSettings,
} from 'kysely';
import { GatehouseError } from '../core/errors.ts';
import { toStoreError } from './store-errors.ts';

/** Marks the async context of a running `store.transaction()` callback. */
export const transactionScope = new AsyncLocalStorage<symbol>();

/**
 * @param owner identifies this store's transactions in {@link transactionScope}.
 * @param isClosed once true, nothing (re)connects: Kysely would otherwise lazily
 *   initialize a driver it never used again after `destroy()`.
 */
export function guardDialect(inner: Dialect, owner: symbol, isClosed: () => boolean): Dialect {
  return {
    createDriver: (): Driver => new GuardedDriver(inner.createDriver(), owner, isClosed),
    createQueryCompiler: (): QueryCompiler => inner.createQueryCompiler(),
    createAdapter: (): DialectAdapter => inner.createAdapter(),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => inner.createIntrospector(db),
  };
}

async function mapped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toStoreError(error);
  }
}

class GuardedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;

  constructor(inner: DatabaseConnection) {
    this.inner = inner;
  }

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return mapped(() => this.inner.executeQuery<R>(compiledQuery));
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

function closedError(): GatehouseError {
  return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'store is closed' });
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof GuardedConnection ? connection.inner : connection;
}

class GuardedDriver implements Driver {
  readonly #inner: Driver;
  readonly #owner: symbol;
  readonly #isClosed: () => boolean;

  constructor(inner: Driver, owner: symbol, isClosed: () => boolean) {
    this.#inner = inner;
    this.#owner = owner;
    this.#isClosed = isClosed;
  }

  init(): Promise<void> {
    if (this.#isClosed()) return Promise.reject(closedError());
    return mapped(() => this.#inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // Queries through the transaction object reuse its connection and never get here.
    if (transactionScope.getStore() === this.#owner) {
      throw new GatehouseError('ERR_INTERNAL', {
        detail: 'store.db used inside store.transaction(); use the transaction object passed to the callback',
      });
    }
    if (this.#isClosed()) throw closedError();
    return new GuardedConnection(await mapped(() => this.#inner.acquireConnection()));
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return mapped(() => this.#inner.beginTransaction(unwrap(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return mapped(() => this.#inner.commitTransaction(unwrap(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return mapped(() => this.#inner.rollbackTransaction(unwrap(connection)));
  }

  savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    const inner = this.#inner;
    if (!inner.savepoint) return Promise.reject(new GatehouseError('ERR_INTERNAL', { detail: 'savepoints unsupported' }));
    return mapped(() => inner.savepoint!(unwrap(connection), name, compileQuery));
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    const inner = this.#inner;
    if (!inner.rollbackToSavepoint) return Promise.reject(new GatehouseError('ERR_INTERNAL', { detail: 'savepoints unsupported' }));
    return mapped(() => inner.rollbackToSavepoint!(unwrap(connection), name, compileQuery));
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    const inner = this.#inner;
    if (!inner.releaseSavepoint) return Promise.reject(new GatehouseError('ERR_INTERNAL', { detail: 'savepoints unsupported' }));
    return mapped(() => inner.releaseSavepoint!(unwrap(connection), name, compileQuery));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return mapped(() => this.#inner.destroy());
  }
}
