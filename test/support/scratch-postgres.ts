/**
 * A PostgreSQL database of its own for one suite, on the test server (`POSTGRES_URL`): created
 * with a random name, dropped (with force: instances of the suite may still hold connections)
 * when the suite is done. Whatever a suite needs a throw-away database for (several Gatehouse
 * instances on one store, a store backend of a contract suite, a migration run) comes from here.
 *
 * A suite drops its database in `after` (or a `finally`), in a `finally` of its own when other
 * clean-up comes first: a close that throws must not leave the database behind. A database a
 * suite still has not dropped when its process is about to exit (a hook that never ran) is
 * dropped then, with a line saying so.
 *
 * @example
 *   let database: ScratchDatabase | undefined;
 *   before(async () => { database = await createScratchDatabase('gh_two_instances'); ... database.url ... });
 *   after(async () => {
 *     try { await a?.close(); } finally { await database?.drop(); }
 *   });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { POSTGRES_URL } from './services.ts';

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try { await client.query(statement); } finally { await client.end(); }
}

const dropStatement = (name: string) => `drop database if exists ${pg.escapeIdentifier(name)} with (force)`;

/** Names created and not dropped yet, for the sweep at exit. */
const undropped = new Set<string>();
let sweepInstalled = false;

function installSweep(): void {
  if (sweepInstalled) return;
  sweepInstalled = true;
  // `beforeExit` comes once the event loop is empty, so also after a suite's failed hooks;
  // `once`, since the sweep's own queries bring it back.
  process.once('beforeExit', async () => {
    for (const name of undropped) {
      console.log(`# scratch-postgres: database ${name} was not dropped by its suite; dropping it at exit`);
      await admin(dropStatement(name)).catch((error: unknown) => console.log(`# scratch-postgres: could not drop ${name}: ${String(error)}`));
    }
  });
}

export interface ScratchDatabase {
  /** The database's name (`<prefix>_<random>`). */
  name: string;
  /** Connection URL of the new database. */
  url: string;
  /** Removes the database, even while connections to it are open; a second call does nothing. */
  drop(): Promise<void>;
}

/** Creates `<prefix>_<random>`; `drop()` removes it. */
export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  installSweep();
  await admin(`create database ${pg.escapeIdentifier(name)}`);
  undropped.add(name);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.href,
    async drop() {
      if (!undropped.has(name)) return;
      await admin(dropStatement(name));
      undropped.delete(name);
    },
  };
}
