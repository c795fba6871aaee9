/** `gatehouse audit verify` as a user runs it (a child process) on a real SQLite audit log. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { loadOrCreateSigningKey } from '../../src/audit/signing-key.ts';
import { auditPaths } from '../../src/audit/extension.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { accessDraft } from '../audit/support/events.ts';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';
import { serviceOrSkip } from '../support/services.ts';

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

describe('gatehouse audit verify where there is nothing to verify', () => {
  it('run in a directory without Gatehouse data (no --config, no ./gatehouse.yaml), verify refuses with ERR_STORE_UNAVAILABLE and exit 1, creating nothing — before, it created an empty store there and reported "verified 0 records" with exit 0', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'gh-cli-nodata-'));
    try {
      for (const args of [['audit', 'verify'], ['audit', 'query'], ['alerts', 'list'], ['approvals', 'list'], ['ca', 'status']]) {
        const r = await gatehouse(args, { cwd });
        assert.equal(r.status, 1, show(r));
        assert.match(r.stderr, /^error ERR_STORE_UNAVAILABLE: Storage unavailable \(no Gatehouse store at .*gatehouse-data\/gatehouse\.db \(built-in defaults: no \.\/gatehouse\.yaml here\)/, args.join(' '));
        assert.doesNotMatch(r.stdout, /verified/);
      }
      assert.equal(existsSync(join(cwd, 'gatehouse-data')), false, 'a read-only command created a data directory');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  for (const name of ['sqlite', 'postgres'] as const) {
    it(`a store with Gatehouse's schema and no audit record (${name}: what a --config naming the wrong database, or a log deleted whole, looks like) is not a clean bill: exit 1, "nothing was verified"`, async () => {
      const skip = name === 'postgres' ? await serviceOrSkip('postgres') : false;
      if (skip) return;
      const backend = await createBackend(name);
      try {
        const config = await backend.writeConfig();
        // Opens and migrates the store, records nothing (read-only commands are not audited).
        const list = await gatehouse(['user', 'list', '--config', config]);
        assert.equal(list.status, 0, show(list));
        const r = await gatehouse(['audit', 'verify', '--config', config]);
        assert.equal(r.status, 1, show(r));
        assert.match(r.stdout, /no audit records in this store: nothing was verified/);
        assert.doesNotMatch(r.stdout, /verified \d+ records/);
        const json = await gatehouse(['audit', 'verify', '--config', config, '--json']);
        assert.equal(json.status, 1, show(json));
        const report = JSON.parse(json.stdout) as { ok: boolean; nothingVerified?: boolean };
        assert.deepEqual([report.ok, report.nothingVerified], [false, true]);
      } finally {
        await backend.close();
      }
    });
  }
});
