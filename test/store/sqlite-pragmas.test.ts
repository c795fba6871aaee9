/** The page cache and journal settings of a SQLite file store (the request path's tuning). */
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pragmas-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('opens a file store with a 16 MiB page cache and a 64 MiB journal size limit, synchronous still NORMAL', async () => {
  const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
  try {
    const pragma = async (name: string) => Object.values((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] as object)[0];
    assert.equal(await pragma('cache_size'), -16384);
    assert.equal(await pragma('journal_size_limit'), 64 * 1024 * 1024);
    assert.equal(await pragma('synchronous'), 1);
  } finally {
    await store.close();
  }
});
