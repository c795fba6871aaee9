/**
 * One `DatabaseSync` per database file per process, shared by every store opened on it.
 *
 * `node:sqlite` is synchronous: if two connections of one process contended for the
 * write lock, SQLite's busy handler would sleep on the only thread — the holder could
 * never finish, and the waiter would fail after `busy_timeout` with "database is
 * locked". Sharing one connection and one mutex per file turns that into an orderly
 * queue. Other processes on the same file are still handled by `busy_timeout`.
 * The one connection of a file also gets the file's one {@link WalCheckpointer}.
 */
import type { DatabaseSync } from 'node:sqlite';
import { realpathSync } from 'node:fs';
import { Mutex } from './mutex.ts';
import { JOURNAL_SIZE_LIMIT, MEMORY, openSqlite, type SqliteOpenOptions } from './open-sqlite.ts';
import { WalCheckpointer } from './wal-checkpointer.ts';

export interface SqliteHandle {
  readonly db: DatabaseSync;
  /** Held for a statement or a whole transaction. */
  readonly mutex: Mutex;
  /** To be called after each write statement with the rows it changed: drives the WAL checkpointer. */
  wrote(rows: number): void;
  /** The file's WAL checkpointer; none for an in-memory database or when turned off. */
  readonly checkpointer?: WalCheckpointer | undefined;
  /**
   * Drops this user's reference; the last one closes the database, and the promise resolves
   * once the file's checkpoint worker has exited too (nothing touches the file after that).
   */
  release(): Promise<void>;
}

interface Shared {
  db: DatabaseSync;
  mutex: Mutex;
  checkpointer: WalCheckpointer | undefined;
  refs: number;
}

const nothing = (): void => {};

const open = new Map<string, Shared>();

export function acquireSqlite(location: string, options: SqliteOpenOptions): SqliteHandle {
  if (location === MEMORY) {
    // Every :memory: database is a separate database: nothing to share.
    const db = openSqlite(location, options);
    return { db, mutex: new Mutex(), wrote: nothing, release: () => { if (db.isOpen) db.close(); return Promise.resolve(); } };
  }
  const db = openSqlite(location, options);
  const key = realpathSync(location);
  let shared = open.get(key);
  if (shared) {
    db.close();
  } else {
    const checkpointer = options.walCheckpointer === false ? undefined
      : new WalCheckpointer(db, key, options.busyTimeoutMs, JOURNAL_SIZE_LIMIT, options.walCheckpointer);
    shared = { db, mutex: new Mutex(), checkpointer, refs: 0 };
    open.set(key, shared);
  }
  shared.refs += 1;
  const entry = shared;
  let released = false;
  return {
    db: entry.db,
    mutex: entry.mutex,
    checkpointer: entry.checkpointer,
    wrote: entry.checkpointer ? (rows) => entry.checkpointer!.wrote(rows) : nothing,
    release() {
      if (released) return Promise.resolve();
      released = true;
      entry.refs -= 1;
      if (entry.refs !== 0) return Promise.resolve();
      open.delete(key);
      const stopped = entry.checkpointer?.stop() ?? Promise.resolve();
      entry.db.close();
      return stopped;
    },
  };
}
