/**
 * `gatehouse audit prune`: the cut is signed with the configured audit signing key (found
 * under the data directory by default), so that `audit verify` with the same configuration
 * accepts the shortened chain; without a key nothing is deleted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { auditPruneCommand } from '../../src/audit/commands/prune.ts';
import { auditVerifyCommand } from '../../src/audit/commands/verify.ts';
import { generateSigningJwk, signingKeyFromJwk, type AuditSigningKey } from '../../src/audit/signing-key.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import type { Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

describe('audit prune command', () => {
  let db: TestDatabase;
  let store: Store;
  let key: AuditSigningKey;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const jwk = await generateSigningJwk();
    key = await signingKeyFromJwk(jwk);
    // The default location: <dataDir>/audit-signing-key.jwk.
    await writeFile(join(db.dir, 'audit-signing-key.jwk'), JSON.stringify(jwk), { mode: 0o600 });
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool'), signingKey: key, checkpointEveryRecords: 10, batchMaxEvents: 10 });
    for (let i = 0; i < 20; i++) {
      writer.append({ ...accessDraft(i), time: Date.now() - 3 * 86_400_000 });
      if (i % 10 === 9) await writer.flush();
    }
    await writer.close();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('refuses to cut without a signing key it can find (an audit section naming none) and deletes nothing', async () => {
    await assert.rejects(auditPruneCommand(store, auditSchema.parse({}), { olderThanDays: 1 }), { code: 'ERR_AUDIT_KEY_MISSING' });
    await assert.rejects(auditPruneCommand(store, { dataDir: join(db.dir, 'elsewhere'), audit: auditSchema.parse({}) }, { olderThanDays: 1 }), { code: 'ERR_AUDIT_KEY_MISSING' });
    assert.equal(await createAuditRepo(store.db, store.dialect).firstSeq('main'), 1);
  });

  it('signs its cut with the key under the data directory, and verify with the same configuration accepts the shortened chain', async () => {
    const config = { dataDir: db.dir, audit: auditSchema.parse({}) };
    const r = await auditPruneCommand(store, config, { olderThanDays: 1 });
    assert.deepEqual([r.cutAt, r.deletedRecords], [20, 20]);
    const v = await auditVerifyCommand(store, config);
    assert.equal(v.exitCode, 0, v.output);
    assert.equal(v.report.chains[0]!.startedFrom, 20);
  });
});
