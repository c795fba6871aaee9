/** `gatehouse audit verify` as a user runs it (a child process) on a real SQLite audit log. */
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

describe('gatehouse audit verify --chain', () => {
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
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: paths.spoolDir, signingKey, checkpointEveryRecords: 5 });
    for (let i = 0; i < 12; i++) writer.append(accessDraft(i));
    await writer.close();
    await store.close();
  });
  after(async () => { await backend?.close(); });

  it('verifies the chain that exists', async () => {
    const r = await gatehouse(['audit', 'verify', '--config', config, '--chain', 'main']);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /chain main: 12 records .*: ok/);
  });

  it('a chain name that names no chain (a typo) is refused with ERR_AUDIT_QUERY_INVALID and exit 1 instead of "0 records: ok"', async () => {
    const r = await gatehouse(['audit', 'verify', '--config', config, '--chain', 'mian']);
    assert.equal(r.status, 1, show(r));
    assert.doesNotMatch(r.stdout, /ok/);
    assert.match(r.stderr, /^error ERR_AUDIT_QUERY_INVALID: Invalid audit query \(no audit chain "mian"; chains: main\)\n$/);
  });
});
