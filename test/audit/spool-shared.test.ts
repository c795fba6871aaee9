/**
 * Two Gatehouse processes started on one data directory share one spool directory. The one
 * started second takes the first one's segments for leftovers of a dead process: it replays
 * them and deletes them, including the segment the first one is still appending to, so what
 * the first accepts from then on is in no file and is lost when it stops before its store
 * has it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

describe('two writers on one spool directory', () => {
  let db: TestDatabase;
  let store: Store;
  before(async () => { db = await sqliteBackend.create(); store = await db.open(); });
  after(async () => { await store?.close(); await db?.drop(); });

  it('refuses a second writer on a spool directory in use (ERR_AUDIT_UNAVAILABLE), so it cannot delete the first one\'s unwritten events', async () => {
    const spoolDir = join(db.dir, 'spool');
    // The first writer's store is gone: what it accepts stays in its spool only.
    const gone = await db.open();
    await gone.close();
    const first = AuditWriter.open({ store: gone, chain: 'shared', instance: 'first', spoolDir });
    let second: AuditWriter | undefined;
    try {
      second = AuditWriter.open({ store, chain: 'shared', instance: 'second', spoolDir });
      second.append(accessDraft(2, { requestId: 'req-second' }));
      await second.flush();
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'ERR_AUDIT_UNAVAILABLE');
    }
    // Accepted (spooled) by the first writer while the second one runs.
    first.append(accessDraft(1, { requestId: 'req-first' }));
    await second?.close();
    assert.equal(second, undefined, 'the second writer was refused');
    // The first process stops without reaching its store; the next start replays its spool.
    await first.close(50);
    const next = AuditWriter.open({ store, chain: 'shared', instance: 'next', spoolDir });
    await next.flush();
    await next.close();
    const ids = (await createAuditRepo(store.db, store.dialect).page('shared', 0, 100)).map((r) => r.requestId);
    assert.ok(ids.includes('req-first'), `the first writer's event survived (stored: ${ids.join(', ')})`);
  });
});
