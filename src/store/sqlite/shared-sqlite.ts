/**
 * One `DatabaseSync` per database file per process, shared by every store opened on it.
 *
 * `node:sqlite` is synchronous: if two connections of one process contended for the
 * write lock, SQLite's busy handler would sleep on the only thread — the holder could
 * never finish, and the waiter would fail after `busy_timeout` with "database is
 * locked". Sharing one connection and one mutex per file turns that into an orderly
 * queue. Other processes on the same file are still handled by `busy_timeout`.
 */
import type { DatabaseSync } from 'node:sqlite';
import { realpathSync } from 'node:fs';
import { Mutex } from './mutex.ts';
import { MEMORY, openSqlite, type SqliteOpenOptions } from './open-sqlite.ts';

export interface SqliteHandle {
  readonly db: DatabaseSync;
  /** Held for a statement or a whole transaction. */
  readonly mutex: Mutex;
  /** Drops this user's reference; the last one closes the database. */
  release(): void;
}

interface Shared {
  db: DatabaseSync;
  mutex: Mutex;
  refs: number;
}

const open = new Map<string, Shared>();

export function acquireSqlite(location: string, options: SqliteOpenOptions): SqliteHandle {
  if (location === MEMORY) {
    // Every :memory: database is a separate database: nothing to share.
    const db = openSqlite(location, options);
    return { db, mutex: new Mutex(), release: () => { if (db.isOpen) db.close(); } };
  }
  const db = openSqlite(location, options);
  const key = realpathSync(location);
  let shared = open.get(key);
  if (shared) {
    db.close();
  } else {
    shared = { db, mutex: new Mutex(), refs: 0 };
    open.set(key, shared);
  }
  shared.refs += 1;
  const entry = shared;
  let released = false;
  return {
    db: entry.db,
    mutex: entry.mutex,
    release() {
      if (released) return;
      released = true;
      entry.refs -= 1;
      if (entry.refs === 0) {
        open.delete(key);
        entry.db.close();
      }
    },
  };
}
