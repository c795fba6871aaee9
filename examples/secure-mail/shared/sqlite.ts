/**
 * Each service owns one (or, for messages, two) SQLite files that only it opens: its data
 * is reachable through its API and nowhere else. SQL here is fixed text with bound
 * parameters (node:sqlite prepared statements); nothing is built from strings.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export interface OpenDatabaseOptions {
  /**
   * Overwrite deleted content with zeros and keep no write-ahead log, so that a deleted
   * row (a destroyed key) does not linger in free pages or a WAL file.
   */
  secureDelete?: boolean;
}

/** Opens (creating with mode 0600) a service's private database and applies `schema`. */
export function openDatabase(file: string, schema: string, options: OpenDatabaseOptions = {}): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Created by us first with 0600, so the file is never readable by others even briefly.
  closeSync(openSync(file, 'a', 0o600));
  const db = new DatabaseSync(file, { enableForeignKeyConstraints: true });
  db.exec('PRAGMA busy_timeout = 5000');
  if (options.secureDelete) {
    db.exec('PRAGMA journal_mode = DELETE');
    db.exec('PRAGMA secure_delete = ON');
  } else {
    db.exec('PRAGMA journal_mode = WAL');
  }
  db.exec(schema);
  return db;
}

/** Runs `work` in one immediate transaction: all of it is written, or none. */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}
