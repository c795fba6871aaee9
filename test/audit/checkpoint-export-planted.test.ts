/**
 * `audit checkpoint export` writes the anchor that is kept outside Gatehouse and later held
 * against the database. It must anchor only checkpoints a trusted key signed: a row planted in
 * the database by someone who cannot sign would otherwise go into the write-once copy, and every
 * later `audit verify --checkpoints` with that copy would fail on it, for good.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeChain } from './support/chain.ts';
import { generateSigningJwk, signingKeyFromJwk, type AuditSigningKey } from '../../src/audit/signing-key.ts';
import { auditCheckpointExportCommand } from '../../src/audit/commands/checkpoint-export.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import type { Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';

describe('audit checkpoint export', () => {
  let db: TestDatabase;
  let store: Store;
  let key: AuditSigningKey;
  let keyFile: string;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const jwk = await generateSigningJwk();
    key = await signingKeyFromJwk(jwk);
    keyFile = join(db.dir, 'audit-signing-key.jwk');
    await writeFile(keyFile, JSON.stringify(jwk), { mode: 0o600 });
    await writeChain(store, { chain: 'main', records: 250, key, spoolRoot: db.dir });
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  const config = () => ({ dataDir: db.dir, audit: auditSchema.parse({ signingKeyFile: keyFile }) });

  it('exports the signed checkpoints of an untouched chain', async () => {
    const e = await auditCheckpointExportCommand(store, config());
    assert.deepEqual(e.checkpoints.map((c) => c.seq), [100, 200, 250]);
  });

  it('a checkpoint row planted in the database with a replayed signature is refused with ERR_AUDIT_TAMPERED, not anchored', async () => {
    const [real] = await createAuditRepo(store.db, store.dialect).checkpoints('main');
    await store.db.insertInto('audit_checkpoints').values({ chain: 'main', seq: 150, hash: 'f'.repeat(64), time: Date.now(), instance: 'test-1', kid: real!.kid, jws: real!.jws, created_at: Date.now() }).execute();
    await assert.rejects(auditCheckpointExportCommand(store, config()), (err: { code: string; detail: string }) => {
      assert.equal(err.code, 'ERR_AUDIT_TAMPERED');
      assert.match(err.detail, /main.*150/);
      return true;
    });
  });
});
