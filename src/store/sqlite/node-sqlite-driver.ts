/**
 * A Kysely driver over Node's built-in `node:sqlite` (`DatabaseSync`).
 *
 * SQLite is single-writer and this driver holds exactly one connection, so it is
 * handed out under a mutex: a transaction keeps the connection across every
 * `await` between its statements, and any other query waits until the
 * transaction commits or rolls back. Nothing can interleave inside a transaction.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { SqliteHandle } from './shared-sqlite.ts';
import {
  CompiledQuery, IdentifierNode, RawNode, createQueryId,
  type DatabaseConnection, type Driver, type QueryCompiler, type QueryResult, type TransactionSettings,
} from 'kysely';

/** Provides the (possibly shared) database; called once, on first use. */
export type OpenDatabase = () => SqliteHandle;

export class NodeSqliteDriver implements Driver {
  readonly #open: OpenDatabase;
  #handle: SqliteHandle | undefined;
  #connection: NodeSqliteConnection | undefined;

  constructor(open: OpenDatabase) {
    this.#open = open;
  }

  async init(): Promise<void> {
    this.#handle = this.#open();
    this.#connection = new NodeSqliteConnection(this.#handle.db, this.#handle.wrote);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const handle = this.#handle;
    if (!handle || !this.#connection) throw new Error('sqlite driver is not initialized');
    await handle.mutex.lock();
    if (!this.#connection) {
      handle.mutex.unlock();
      throw new Error('sqlite store is closed');
    }
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    // SQLite transactions are always serializable; other levels cannot be honoured.
    if (settings.isolationLevel && settings.isolationLevel !== 'serializable') {
      throw new Error(`sqlite does not support isolation level ${settings.isolationLevel}`);
    }
    // IMMEDIATE takes the write lock at BEGIN: another process on the same file then
    // waits (busy_timeout) instead of failing with SQLITE_BUSY when a reader upgrades.
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointNode('savepoint', name), createQueryId()));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointNode('rollback to', name), createQueryId()));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointNode('release', name), createQueryId()));
  }

  async releaseConnection(): Promise<void> {
    this.#handle?.mutex.unlock();
  }

  async destroy(): Promise<void> {
    const handle = this.#handle;
    if (!handle) return;
    // Wait for the running transaction or statement so that close() never cuts one in half.
    await handle.mutex.lock();
    let released: Promise<void>;
    try {
      this.#connection = undefined;
      this.#handle = undefined;
      released = handle.release();
    } finally {
      handle.mutex.unlock();
    }
    await released;
  }
}

// Kysely compiles the same SQL text for every call of a query shape; re-preparing it
// each time dominated simple lookups. SQLite re-prepares a cached statement by itself
// when the schema changes.
const STATEMENT_CACHE_SIZE = 256;

/** Statements with columns that cannot write; the others (… RETURNING) count as writes for the WAL checkpointer. */
const READ_ONLY = /^\s*(?:select|pragma|explain)\b/i;

class NodeSqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #wrote: (rows: number) => void;

  constructor(db: DatabaseSync, wrote: (rows: number) => void) {
    this.#db = db;
    this.#wrote = wrote;
  }

  #prepare(text: string): StatementSync {
    let stmt = this.#statements.get(text);
    if (stmt) {
      // Least recently used first: re-insert on every hit.
      this.#statements.delete(text);
    } else {
      stmt = this.#db.prepare(text);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
    }
    this.#statements.set(text, stmt);
    return stmt;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.#prepare(compiledQuery.sql);
    const params = compiledQuery.parameters as SQLInputValue[];
    // A statement that yields columns (SELECT, PRAGMA, … RETURNING) is read with all().
    if (stmt.columns().length > 0) {
      const rows = stmt.all(...params) as R[];
      if (!READ_ONLY.test(compiledQuery.sql)) this.#wrote(rows.length);
      return { rows };
    }
    const { changes, lastInsertRowid } = stmt.run(...params);
    this.#wrote(Number(changes));
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const stmt = this.#prepare(compiledQuery.sql);
    for (const row of stmt.iterate(...(compiledQuery.parameters as SQLInputValue[]))) {
      yield { rows: [row as R] };
    }
  }
}

// Mirrors Kysely's internal savepoint parser (not exported): the name is compiled
// as an identifier, so it is quoted by the query compiler, never spliced in.
function savepointNode(command: string, name: string): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)]);
}
