/** The store's public interface: one shape for SQLite and PostgreSQL. */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './database.ts';

export type StoreDialect = 'sqlite' | 'postgres';

/** Handle on the open database. Only code under `src/store` may use `db`/`trx` directly. */
export interface Store {
  readonly dialect: StoreDialect;
  /** Typed query builder. Inside `transaction()` use the `trx` argument, never this. */
  readonly db: Kysely<Database>;
  /**
   * Applies pending migrations (src/store/migrations/index.ts). Idempotent, and safe
   * to call from several instances at once (PostgreSQL advisory lock; SQLite write lock).
   * Throws ERR_STORE_UNAVAILABLE when the database cannot be reached.
   */
  migrate(): Promise<void>;
  /** Round-trips a trivial query; never throws. `detail` is safe to show on /readyz. */
  health(): Promise<StoreHealth>;
  /**
   * Runs `fn` in one transaction: commits when it resolves, rolls back when it throws
   * (rethrowing). Keep it short and free of network calls: on SQLite it holds the only
   * connection. Using `store.db` or nesting `transaction()` inside `fn` throws.
   */
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
  /** Waits for running work, then closes the connection(s). Idempotent. */
  close(): Promise<void>;
  /**
   * What this store was opened with, for opening the same database again where this handle
   * cannot go (a worker thread). Holds the URL's credentials: never log it.
   */
  connectionSpec(): StoreConnectionSpec;
}

/** A store's URL and options, without the logger (it cannot cross threads). */
export interface StoreConnectionSpec {
  url: string;
  options: Omit<StoreOptions, 'logger'>;
}

export interface StoreHealth {
  ok: boolean;
  latencyMs: number;
  /** Error code or short reason when not ok; never contains credentials. */
  detail?: string;
}

export interface StoreOptions {
  logger?: Logger;
  /** SQLite: wait this long for another process's write lock. Default 5000. */
  busyTimeoutMs?: number;
  /** PostgreSQL: most pooled connections. Default 10. */
  poolMax?: number;
  /** PostgreSQL: time to obtain a connection. Default 5000. */
  connectTimeoutMs?: number;
  /** PostgreSQL: server-side statement timeout. Default 30000. */
  statementTimeoutMs?: number;
  /** PostgreSQL: a transaction idle this long is aborted by the server. Default 60000. */
  idleInTransactionTimeoutMs?: number;
  /** `health()` gives up after this long. Default 2000. */
  healthTimeoutMs?: number;
  /**
   * SQLite: false keeps the connection's WAL checkpoints SQLite's automatic ones instead of a
   * checkpoint thread (a connection that is itself off the main thread needs none). Only the
   * first opener of a file in a thread decides. Default: a checkpoint thread.
   */
  sqliteWalCheckpointer?: false;
}
