/** The store contract on SQLite (node:sqlite), plus SQLite-specific settings. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.ts';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';
import { registerStoreContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

registerStoreContract({
  dialect: 'sqlite',
  async createDatabase() {
    const file = join(dir, `db-${++counter}`, 'gatehouse.db');
    return {
      open: () => openStore(`sqlite:${file}`),
      drop: async () => rmSync(join(file, '..'), { recursive: true, force: true }),
    };
  },
  // A path below a regular file can never be opened.
  async unreachableUrl() {
    return `sqlite:${join(import.meta.filename, 'not-a-dir', 'x.db')}`;
  },
});

describe('sqlite store settings', () => {
  it('opens with WAL, foreign keys on, synchronous NORMAL and a busy timeout', async () => {
    const file = join(dir, 'settings', 'gatehouse.db');
    const store = await openStore(`sqlite:${file}`, { busyTimeoutMs: 1234 });
    try {
      const pragma = async (name: string) => Object.values((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] as object)[0];
      assert.equal(String(await pragma('journal_mode')).toLowerCase(), 'wal');
      assert.equal(await pragma('foreign_keys'), 1);
      assert.equal(await pragma('synchronous'), 1);
      assert.equal(await pragma('busy_timeout'), 1234);
    } finally {
      await store.close();
    }
  });

  it('creates a new database file readable by its owner only', async () => {
    const file = join(dir, 'mode', 'gatehouse.db');
    const store = await openStore(`sqlite:${file}`);
    await store.close();
    assert.equal(statSync(file).mode & 0o077, 0);
  });

  it('an existing database file other local users can read (it holds live tokens and sessions) is reported with a warning at open', async () => {
    const file = join(dir, 'loose-mode', 'gatehouse.db');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    const lines: { level: number; msg: string; mode?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
    const store = await openStore(`sqlite:${file}`, { logger });
    await store.close();
    const warning = lines.find((l) => l.level === 40 && /other users/.test(l.msg));
    assert.ok(warning, JSON.stringify(lines));
    assert.equal(warning.mode, '644');
    // A file only its owner can use is not reported.
    chmodSync(file, 0o600);
    lines.length = 0;
    await (await openStore(`sqlite:${file}`, { logger })).close();
    assert.deepEqual(lines.filter((l) => l.level >= 40), []);
  });

  it('runs the contract basics on sqlite::memory: too', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.migrate();
      await store.migrate();
      assert.equal((await store.health()).ok, true);
    } finally {
      await store.close();
    }
  });

  it('refuses defensive-mode-breaking SQL such as writable_schema edits', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.migrate();
      await sql.raw('pragma writable_schema = on').execute(store.db);
      await assert.rejects(sql.raw(`update sqlite_schema set sql = 'x' where name = 'kv_records'`).execute(store.db));
    } finally {
      await store.close();
    }
  });
});

describe('sqlite store shared by several processes', () => {
  it('three processes migrating and writing one file at once apply each migration once and lose no write', async () => {
    const file = join(dir, 'multi', 'gatehouse.db');
    const worker = join(import.meta.dirname, 'fixtures', 'sqlite-worker.ts');
    const run = promisify(execFile);
    const outputs = await Promise.all(['a', 'b', 'c'].map((name) =>
      run(process.execPath, [worker, file, name, '25']).then((r) => r.stdout, (error: { stdout?: string; message: string }) => error.stdout || error.message)));
    assert.deepEqual(outputs, ['ok', 'ok', 'ok']);
    const store = await openStore(`sqlite:${file}`);
    try {
      const names = await sql<{ name: string }>`select name from gatehouse_migrations order by name`.execute(store.db);
      assert.deepEqual(names.rows.map((r) => r.name), Object.keys(MIGRATIONS).sort());
      const n = await store.db.selectFrom('kv_records').select((eb) => eb.fn.countAll<number>().as('n')).where('namespace', '=', 'multi-process').executeTakeFirstOrThrow();
      assert.equal(Number(n.n), 75);
    } finally {
      await store.close();
    }
  });
});
