/**
 * A PostgreSQL database of its own for one suite, on the test server (`POSTGRES_URL`): created
 * with a random name, dropped (with force: instances of the suite may still hold connections)
 * when the suite is done. Suites that run several Gatehouse instances on one store use it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { POSTGRES_URL } from './services.ts';

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}

export interface ScratchDatabase {
  /** Connection URL of the new database. */
  url: string;
  drop(): Promise<void>;
}

/** Creates `<prefix>_<random>`; `drop()` removes it. */
export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin(`create database ${pg.escapeIdentifier(name)}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => admin(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`) };
}
