/**
 * `gatehouse audit prune` as a user runs it (a child process) with the default signing key
 * location under the data directory: the cut is signed and `audit verify` accepts the
 * shortened chain. (The command handed the audit section alone to the prune, which then
 * could not find the key under the data directory and refused every prune.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { loadOrCreateSigningKey } from '../../src/audit/signing-key.ts';
import { auditPaths } from '../../src/audit/extension.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { accessDraft } from '../audit/support/events.ts';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';

describe('gatehouse audit prune', () => {
  let backend: Backend;
  let config: string;

  before(async () => {
    backend = await createBackend('sqlite');
    config = await backend.writeConfig();
    const dataDir = join(backend.dir, 'data');
    const store = await openStore(`sqlite:${join(dataDir, 'gatehouse.db')}`);
    await store.migrate();
    const paths = auditPaths(parseConfig({ dataDir }, { env: {} }).config);
    const signingKey = await loadOrCreateSigningKey(paths.signingKeyFile, { mode: 'development' });
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: paths.spoolDir, signingKey, checkpointEveryRecords: 5, batchMaxEvents: 5 });
    for (let i = 0; i < 10; i++) {
      writer.append({ ...accessDraft(i), time: Date.now() - 3 * 86_400_000 });
      if (i % 5 === 4) await writer.flush();
    }
    await writer.close();
    await store.close();
  });
  after(async () => { await backend?.close(); });

  it('prunes records older than --older-than with the signing key under the data directory, and verify accepts the shortened chain', async () => {
    const r = await gatehouse(['audit', 'prune', '--older-than', '1', '--config', config, '--json']);
    assert.equal(r.status, 0, show(r));
    assert.ok((JSON.parse(r.stdout) as { deletedRecords: number }).deletedRecords > 0, r.stdout);
    const v = await gatehouse(['audit', 'verify', '--config', config]);
    assert.equal(v.status, 0, show(v));
  });
});

describe('gatehouse audit prune on a tampered chain', () => {
  let backend: Backend;
  let config: string;

  before(async () => {
    backend = await createBackend('sqlite');
    config = await backend.writeConfig();
    const dataDir = join(backend.dir, 'data');
    const store = await openStore(`sqlite:${join(dataDir, 'gatehouse.db')}`);
    await store.migrate();
    const paths = auditPaths(parseConfig({ dataDir }, { env: {} }).config);
    const signingKey = await loadOrCreateSigningKey(paths.signingKeyFile, { mode: 'development' });
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: paths.spoolDir, signingKey, checkpointEveryRecords: 5, batchMaxEvents: 5 });
    for (let i = 0; i < 10; i++) {
      writer.append({ ...accessDraft(i), time: Date.now() - 3 * 86_400_000 });
      if (i % 5 === 4) await writer.flush();
    }
    await writer.close();
    // An edited old record: retention must stop there rather than delete the evidence.
    await store.db.updateTable('audit_records').set({ details: '{"status":200,"path":"/nothing-to-see"}' }).where('chain', '=', 'main').where('seq', '=', 3).execute();
    await store.close();
  });
  after(async () => { await backend?.close(); });

  it('an operator reading the human output of a prune held by an edited record is told where and why, as --json says (heldAt)', async () => {
    const json = await gatehouse(['audit', 'prune', '--older-than', '1', '--config', config, '--json']);
    assert.equal(json.status, 0, show(json));
    assert.deepEqual((JSON.parse(json.stdout) as { heldAt?: unknown }).heldAt, { seq: 3, reason: 'record does not match its hash' });
    const human = await gatehouse(['audit', 'prune', '--older-than', '1', '--config', config]);
    assert.equal(human.status, 0, show(human));
    assert.match(human.stdout, /held at record:\s+3 \(record does not match its hash; run gatehouse audit verify\)/);
    assert.match(human.stdout, /records deleted:\s+0/);
  });
});
