/**
 * The spool's fdatasync fails (EIO: a disk going bad) while it runs beside a group commit
 * (src/audit/writer.ts): the commit still counts, no event is lost or written twice, and the
 * writer reports its spool failing. The failure is injected into node:fs itself (its
 * `fdatasync`, re-exported to ES modules with `syncBuiltinESMExports`), the function the
 * spool calls.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { AuditWriter } from '../../src/audit/writer.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { sqliteBackend } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

const realFdatasync = fs.fdatasync;

function failFdatasync(): { calls: () => number } {
  let calls = 0;
  (fs as { fdatasync: unknown }).fdatasync = (_fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    calls += 1;
    setImmediate(() => callback(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' })));
  };
  syncBuiltinESMExports();
  return { calls: () => calls };
}

describe('audit spool fdatasync failing beside the commit', () => {
  const env = useAuditBackend(sqliteBackend);

  afterEach(() => {
    (fs as { fdatasync: unknown }).fdatasync = realFdatasync;
    syncBuiltinESMExports();
  });

  it('an EIO from fdatasync does not undo the batch committed beside it: every event stored once, the spool reported failing, and the writer goes on', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
    const writer = AuditWriter.open({ store: env.store, chain: 'sync-eio', instance: 't', spoolDir: join(env.db.dir, 'spool-sync-eio'), fsync: true, batchMaxEvents: 10, batchMaxDelayMs: 0, logger });
    const injected = failFdatasync();
    try {
      for (let i = 0; i < 25; i++) writer.append(accessDraft(i));
      await writer.flush();
      assert.ok(injected.calls() > 0, 'the spool did call fdatasync');
      const stats = writer.stats();
      assert.notEqual(stats.spoolFailingSince, undefined, 'the spool is reported failing');
      assert.equal(stats.failedBatches, 0, 'no batch failed because of it');
      assert.equal(stats.committed, 25);
      assert.ok(lines.some((l) => l.includes('cannot write to the spool') && l.includes('EIO')), 'the failure is logged with its cause');
    } finally {
      (fs as { fdatasync: unknown }).fdatasync = realFdatasync;
      syncBuiltinESMExports();
    }
    for (let i = 25; i < 30; i++) writer.append(accessDraft(i));
    await writer.close();
    const rows = await createAuditRepo(env.store.db, env.store.dialect).page('sync-eio', 0, 100);
    assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 30 }, (_, i) => i + 1), 'every event once, in order');
  });
});
