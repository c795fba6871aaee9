/**
 * Opens a `node:sqlite` database with Gatehouse's settings.
 *
 * - WAL journal: readers never block the writer; `synchronous=NORMAL` is durable
 *   against application crashes and never corrupts on power loss (the last
 *   transactions before a power cut may be lost). Checkpoints run in a worker thread (see
 *   `WalCheckpointer`); `journal_size_limit` cuts a WAL back after a burst.
 * - A 16 MiB page cache (SQLite's default is 2 MiB): the audit log's indexes on random keys
 *   (event id, request id) are written all over; with the default cache their pages were read
 *   back from the OS on every batch, about a quarter of the main thread's CPU per appended row.
 * - `busy_timeout`: another process holding the write lock is waited for, not failed on.
 * - `foreign_keys=ON`: SQLite leaves references unchecked otherwise.
 * - Defensive mode: SQL cannot corrupt the file through `writable_schema` & co.
 * - Extensions cannot be loaded.
 * - A new file is created with mode 0600: it holds sessions and tokens.
 */
import { DatabaseSync } from 'node:sqlite';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { WalCheckpointerOptions } from './wal-checkpointer.ts';

export interface SqliteOpenOptions {
  /** How long a statement waits for another process's write lock. */
  busyTimeoutMs: number;
  /**
   * Checkpoints of a file database run in a worker thread (see `WalCheckpointer`); false
   * keeps SQLite's automatic checkpoint inside COMMIT. Only the first opener of a file decides.
   */
  walCheckpointer?: Partial<WalCheckpointerOptions> | false;
}

/**
 * When a WAL is restarted it is cut back to this size: a burst (or a long reader starving
 * the checkpoints) does not leave a file of its peak size behind for the process's lifetime.
 * Well above the WAL of steady operation, so the cut is rare and the file is reused as is.
 */
/** Negative: in KiB, whatever the page size (SQLite's convention). */
const CACHE_SIZE_KIB = -16 * 1024;

export const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

export const MEMORY = ':memory:';

export function openSqlite(location: string, options: SqliteOpenOptions): DatabaseSync {
  if (location !== MEMORY) {
    mkdirSync(dirname(location), { recursive: true, mode: 0o700 });
    // 'a' creates the file if missing (with 0600) and never truncates an existing one.
    closeSync(openSync(location, 'a', 0o600));
  }
  const db = new DatabaseSync(location, {
    timeout: options.busyTimeoutMs,
    enableForeignKeyConstraints: true,
    allowExtension: false,
  });
  try {
    db.enableDefensive(true);
    if (location !== MEMORY) {
      db.exec('pragma journal_mode = wal');
      db.exec('pragma synchronous = normal');
      db.exec(`pragma journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.exec(`pragma cache_size = ${CACHE_SIZE_KIB}`);
    }
    db.exec('pragma foreign_keys = on');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
