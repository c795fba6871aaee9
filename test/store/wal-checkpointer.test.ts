/** The SQLite WAL checkpointer: checkpoints in a worker thread, a WAL that stays bounded, clean shutdown. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.ts';
import { acquireSqlite, type SqliteHandle } from '../../src/store/sqlite/shared-sqlite.ts';
import type { CheckpointReport, WalCheckpointerOptions } from '../../src/store/sqlite/wal-checkpointer.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-wal-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const run = promisify(execFile);

function open(options: Partial<WalCheckpointerOptions> = {}): { handle: SqliteHandle; file: string } {
  const file = join(dir, `db-${++counter}`, 'gatehouse.db');
  const handle = acquireSqlite(file, { busyTimeoutMs: 5000, walCheckpointer: { afterRows: 1, minIntervalMs: 0, ...options } });
  handle.db.exec('create table t (id integer primary key, v text not null)');
  handle.wrote(1);
  return { handle, file };
}

/** What the driver does: a write statement, then `wrote(rows)`. */
function insert(handle: SqliteHandle, rows: number): void {
  handle.db.exec('begin immediate');
  const stmt = handle.db.prepare('insert into t (v) values (?)');
  for (let i = 0; i < rows; i++) stmt.run('x'.repeat(200));
  handle.db.exec('commit');
  handle.wrote(rows);
}

const autocheckpoint = (handle: SqliteHandle) => (handle.db.prepare('pragma wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

async function nextReport(handle: SqliteHandle): Promise<CheckpointReport> {
  const worker = handle.checkpointer?.worker;
  assert.ok(worker, 'the checkpointer worker is started');
  const [message] = await once(worker, 'message') as ['ready' | CheckpointReport];
  return message === 'ready' ? nextReport(handle) : message;
}

async function active(handle: SqliteHandle): Promise<void> {
  while (!handle.checkpointer?.active) await nextReport(handle);
}

describe('sqlite WAL checkpointer', () => {
  it('moves checkpoints of a file database into a worker: the main connection no longer checkpoints in COMMIT', async () => {
    const { handle } = open();
    try {
      assert.equal(autocheckpoint(handle), 1000, 'the automatic checkpoint stays on until the worker is ready');
      await active(handle);
      assert.equal(autocheckpoint(handle), 0);
      insert(handle, 500);
      const report = await nextReport(handle);
      assert.ok(report.log > 0, 'the rows went into the WAL');
      assert.equal(report.checkpointed, report.log, 'the worker copied every frame into the database file');
    } finally {
      handle.release();
    }
  });

  it('truncates a WAL that grew beyond its bound', async () => {
    const { handle, file } = open({ truncateFrames: 1 });
    try {
      await active(handle);
      insert(handle, 500);
      const report = await nextReport(handle);
      assert.equal(report.truncated, true);
      assert.equal(report.busy, 0);
      assert.equal(statSync(`${file}-wal`).size, 0);
      assert.equal(autocheckpoint(handle), 0, 'the bound was kept: the worker keeps checkpointing');
    } finally {
      handle.release();
    }
  });

  it('a killed checkpointer worker brings the automatic checkpoint back, so the WAL stays bounded', async () => {
    const { handle } = open();
    try {
      await active(handle);
      const worker = handle.checkpointer!.worker!;
      await worker.terminate();
      assert.equal(autocheckpoint(handle), 1000);
      assert.equal(handle.checkpointer!.active, false);
      insert(handle, 10);
      assert.equal(autocheckpoint(handle), 1000, 'writes after the loss do not restart anything half-way');
    } finally {
      handle.release();
    }
  });

  it('a checkpointer that does not answer in time brings the automatic checkpoint back until it answers again', async () => {
    const { handle } = open({ staleMs: 0 });
    try {
      await active(handle);
      insert(handle, 10);
      // Same tick: the worker's answer to the first request cannot have been handled yet.
      insert(handle, 10);
      assert.equal(autocheckpoint(handle), 1000);
      await nextReport(handle);
      assert.equal(autocheckpoint(handle), 0);
    } finally {
      handle.release();
    }
  });

  it('keeps every committed row intact across worker checkpoints (integrity check from a fresh connection)', async () => {
    const { handle, file } = open();
    let closed = false;
    try {
      await active(handle);
      for (let i = 0; i < 20; i++) {
        insert(handle, 250);
        if (i % 3 === 0) await nextReport(handle);
      }
      handle.release();
      closed = true;
      // A busy timeout, as every real reader has: the released worker may still be finishing a checkpoint.
      const fresh = new DatabaseSync(file, { readOnly: true, timeout: 5000 });
      try {
        assert.deepEqual({ ...fresh.prepare('pragma integrity_check').get() }, { integrity_check: 'ok' });
        assert.deepEqual({ ...fresh.prepare('select count(*) as n from t').get() }, { n: 5000 });
      } finally {
        fresh.close();
      }
    } finally {
      if (!closed) handle.release();
    }
  });

  it('two stores on one file share one worker, and releasing the last one stops it', async () => {
    const { handle: first, file } = open();
    const second = acquireSqlite(file, { busyTimeoutMs: 5000 });
    await active(first);
    assert.equal(second.checkpointer, first.checkpointer);
    const worker = first.checkpointer!.worker!;
    first.release();
    assert.equal(second.checkpointer!.active, true, 'still checkpointing for the other store');
    const exited = once(worker, 'exit');
    second.release();
    assert.deepEqual(await exited, [0], 'the worker closed its connection and ended');
  });

  it('closing a store stops its worker', async () => {
    const file = join(dir, `db-${++counter}`, 'gatehouse.db');
    const store = await openStore(`sqlite:${file}`);
    await sql`create table t (id integer primary key, v text not null)`.execute(store.db);
    const handle = acquireSqlite(file, { busyTimeoutMs: 5000 });
    // Writes through the store's driver start the worker once there are enough of them.
    while (!handle.checkpointer?.worker) await sql`insert into t (v) values (${'x'})`.execute(store.db);
    const worker = handle.checkpointer!.worker!;
    handle.release();
    const exited = once(worker, 'exit');
    await store.close();
    assert.deepEqual(await exited, [0]);
  });

  it('a store closed while its worker is still starting: once close() resolves the worker has exited, and the emptied directory stays empty (no database file opened again behind it)', async () => {
    const folder = join(dir, `db-${++counter}`);
    const file = join(folder, 'gatehouse.db');
    const store = await openStore(`sqlite:${file}`);
    await sql`create table t (id integer primary key, v text not null)`.execute(store.db);
    const handle = acquireSqlite(file, { busyTimeoutMs: 5000 });
    while (!handle.checkpointer?.worker) await sql`insert into t (v) values (${'x'})`.execute(store.db);
    // Closed in the same turn as the worker was started: its thread has not even opened the file yet.
    const worker = handle.checkpointer!.worker!;
    let exited = false;
    worker.once('exit', () => { exited = true; });
    handle.release();
    await store.close();
    assert.equal(exited, true, 'close() resolved before the checkpoint worker had exited');
    // What a test's teardown (or an operator's cleanup) does next.
    for (const name of readdirSync(folder)) rmSync(join(folder, name), { force: true });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(readdirSync(folder), []);
  });

  it('a process that never closes its store still exits: the worker does not keep it alive', async () => {
    const file = join(dir, `db-${++counter}`, 'gatehouse.db');
    const script = `
      import { once } from 'node:events';
      import { acquireSqlite } from ${JSON.stringify(new URL('../../src/store/sqlite/shared-sqlite.ts', import.meta.url).href)};
      const keep = setInterval(() => {}, 1000);
      const h = acquireSqlite(${JSON.stringify(file)}, { busyTimeoutMs: 5000, walCheckpointer: { afterRows: 1, minIntervalMs: 0 } });
      h.db.exec('create table t (v text)');
      h.wrote(1);
      while (!h.checkpointer.active) await once(h.checkpointer.worker, 'message');
      h.db.exec("insert into t values ('x')");
      h.wrote(1);
      clearInterval(keep);
      console.log('active');`;
    const child = join(dir, `child-${counter}.mjs`);
    writeFileSync(child, script);
    // A hanging child is killed (and fails the test) rather than left behind.
    const { stdout } = await run(process.execPath, [child], { timeout: 60_000 });
    assert.equal(stdout.trim(), 'active');
    const fresh = new DatabaseSync(file, { readOnly: true, timeout: 5000 });
    try {
      assert.deepEqual({ ...fresh.prepare('select count(*) as n from t').get() }, { n: 1 }, 'the committed row survived the exit');
    } finally {
      fresh.close();
    }
  });

  it('a process whose last work is closing its store gets past close(): the stopping worker keeps it alive until it has exited', async () => {
    const file = join(dir, `db-${++counter}`, 'gatehouse.db');
    const script = `
      import { sql } from ${JSON.stringify(import.meta.resolve('kysely'))};
      import { openStore } from ${JSON.stringify(new URL('../../src/store/index.ts', import.meta.url).href)};
      import { acquireSqlite } from ${JSON.stringify(new URL('../../src/store/sqlite/shared-sqlite.ts', import.meta.url).href)};
      const store = await openStore(${JSON.stringify(`sqlite:${file}`)});
      await sql\`create table t (id integer primary key, v text not null)\`.execute(store.db);
      const handle = acquireSqlite(${JSON.stringify(file)}, { busyTimeoutMs: 5000 });
      while (!handle.checkpointer?.worker) await sql\`insert into t (v) values ('x')\`.execute(store.db);
      handle.release();
      await store.close();
      console.log('closed');`;
    const child = join(dir, `child-${counter}.mjs`);
    writeFileSync(child, script);
    // Before: the unreferenced worker let the process end inside close(), with exit code 13
    // (an unsettled top-level await) and nothing printed, which execFile reports as an error.
    const { stdout } = await run(process.execPath, [child], { timeout: 60_000 });
    assert.equal(stdout.trim(), 'closed');
  });

  it('an in-memory database has no checkpointer and keeps working', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.migrate();
      assert.equal((await store.health()).ok, true);
    } finally {
      await store.close();
    }
    const handle = acquireSqlite(':memory:', { busyTimeoutMs: 5000 });
    assert.equal(handle.checkpointer, undefined);
    handle.release();
  });
});
