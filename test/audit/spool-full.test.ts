/**
 * A full disk under the spool. The child process runs with a file size limit (`ulimit -f`,
 * SIGXFSZ ignored): once its spool segment reaches it, writes come back short and then fail
 * with EFBIG, the way they do with ENOSPC. The store (PostgreSQL; an SQLite file would hit
 * the same limit) stays reachable, so every answered request can still be recorded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { postgresBackend, type TestDatabase } from './support/backends.ts';

const CHILD = join(import.meta.dirname, 'fixtures', 'spool-full-child.ts');
const backend = await postgresBackend();

async function runUnderFileLimit(kib: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-c', `trap '' XFSZ; ulimit -f ${kib}; exec "$0" "$@"`, process.execPath, CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  const [code] = await once(child, 'exit') as [number | null];
  return { code, stdout, stderr };
}

describe('audit spool on a full disk', { skip: backend.skip }, () => {
  let db: TestDatabase;
  let store: Store;
  before(async () => { db = await backend.create(); store = await db.open(); });
  after(async () => { await store?.close(); await db?.drop(); });

  it('records every answered request in the store when the spool cannot be written (EFBIG/ENOSPC), and reports the spool failing', async () => {
    const count = 400;
    // ~600-byte lines: the 64 KiB limit is reached after about a hundred.
    const run = await runUnderFileLimit(64, [db.url, join(db.dir, 'spool'), String(count)]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { thrown: number; spoolFailing: boolean };
    const rows = await createAuditRepo(store.db, store.dialect).page('full', 0, 10_000);
    assert.deepEqual(rows.map((r) => r.requestId), Array.from({ length: count }, (_, i) => `req-full-${i}`), 'every access event stored, in order');
    assert.equal(result.thrown, 0, 'the access sink never lost an event to an exception');
    assert.equal(result.spoolFailing, true, 'the writer reports that its spool cannot be written');
  });

  it('with grouped writes (responses held for their records), a full disk still loses no event and releases every held response', async () => {
    const count = 400;
    const run = await runUnderFileLimit(64, [db.url, join(db.dir, 'spool-grouped'), String(count), 'grouped']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { thrown: number; spoolFailing: boolean; corked: number; released: number };
    const rows = await createAuditRepo(store.db, store.dialect).page('full', 0, 10_000);
    const ids = rows.map((r) => r.requestId).filter((id) => id !== null && id.startsWith('req-full-'));
    assert.equal(ids.length, 2 * count, 'both runs\' access events stored (the first test\'s and this one\'s)');
    assert.equal(result.thrown, 0, 'the access sink never lost an event to an exception');
    assert.equal(result.spoolFailing, true, 'the writer reports that its spool cannot be written');
    // Until the spool failed, the events were grouped and their responses held; after it, each takes the synchronous path.
    assert.ok(result.corked > 0, 'responses were held while the spool could be written');
    assert.equal(result.released, result.corked, 'every held response was released, the ones whose grouped write failed too');
  });
});
