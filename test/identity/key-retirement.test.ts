/**
 * Key retirement in the store: a rotated-out signing key verifies (is published) until its
 * retirement time, then leaves the JWKS and its row is deleted, with a real SQLite store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { configSchema } from '../../src/core/config/schema.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { IdentityKeysRepo } from '../../src/store/repos/identity-keys-repo.ts';
import { KeyManager } from '../../src/identity/keys/key-manager.ts';
import { createKeySealer } from '../../src/identity/keys/key-sealer.ts';

describe('signing key retirement', () => {
  let dir: string;
  let store: Store;
  let keys: KeyManager;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-idp-keys-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    const config = configSchema.parse({ mode: 'development', dataDir: dir, identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url') } } }) as any;
    const sealer = createKeySealer({ mode: 'development', dataDir: dir, identity: config.identity }, pino({ level: 'silent' }));
    keys = new KeyManager(new IdentityKeysRepo(store.db, store.dialect), sealer, 'ES256', 300);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = async () => (await store.db.selectFrom('identity_keys').select(['kid', 'use']).execute()).length;

  it('keeps the previous key until it retires, then drops it from the JWKS and deletes its row', async () => {
    const first = await keys.load();
    assert.equal(first.nextRetireAt, undefined);
    const rotated = await keys.rotate();
    const during = await keys.load();
    assert.deepEqual(during.jwks.map((k) => k.kid), [rotated.kid, first.activeKid]);
    assert.equal(during.nextRetireAt, rotated.retireAt, 'the provider is told when to reload');
    assert.equal(await rows(), 4, 'two signing keys and two cookie keys');
    await new Promise((r) => setTimeout(r, rotated.retireAt - Date.now() + 50));
    const later = await keys.load();
    assert.deepEqual(later.jwks.map((k) => k.kid), [rotated.kid]);
    assert.equal(later.cookieKeys.length, 1);
    assert.equal(later.nextRetireAt, undefined);
    assert.equal(await rows(), 2, 'retired rows are deleted');
  });
});
