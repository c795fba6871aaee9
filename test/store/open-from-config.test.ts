/** Opening the store from validated configuration, and the kv sweeper. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { storeSchema } from '../../src/core/config/store-schema.ts';
import { createKvRepo, openStoreFromConfig, startKvSweeper, storeUrlFromConfig } from '../../src/store/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('store from configuration', () => {
  it('defaults to an SQLite file in the data directory', async () => {
    const config = { dataDir: join(dir, 'data'), store: storeSchema.parse({}) };
    assert.equal(storeUrlFromConfig(config), `sqlite:${join(dir, 'data', 'gatehouse.db')}`);
    const store = await openStoreFromConfig(config);
    try {
      assert.equal(store.dialect, 'sqlite');
      await store.migrate();
      assert.ok(existsSync(join(dir, 'data', 'gatehouse.db')));
    } finally {
      await store.close();
    }
  });

  it('refuses unknown store keys and out-of-range timeouts', () => {
    assert.throws(() => storeSchema.parse({ url: 'sqlite::memory:', poolSize: 3 }));
    assert.throws(() => storeSchema.parse({ statementTimeoutMs: 0 }));
  });
});

describe('kv sweeper', () => {
  it('deletes expired records on its interval and stops cleanly', async () => {
    const store = await openStoreFromConfig({ dataDir: dir, store: storeSchema.parse({ url: 'sqlite::memory:' }) });
    try {
      await store.migrate();
      const t = { now: Date.now() };
      const kv = createKvRepo(store.db, { now: () => t.now });
      await kv.upsert('Session', 'old', {}, 1);
      await kv.upsert('Session', 'live', {}, 3600);
      t.now += 2000;
      const sweeper = startKvSweeper(kv, 5);
      const rows = () => store.db.selectFrom('kv_records').select('id').execute();
      for (let i = 0; i < 200 && (await rows()).length > 1; i++) await sleep(5);
      await sweeper.stop();
      assert.deepEqual((await rows()).map((r) => r.id), ['live']);
    } finally {
      await store.close();
    }
  });
});
