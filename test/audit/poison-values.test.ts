/**
 * Hostile characters that a store cannot hold must not stop the audit log. PostgreSQL's text
 * type refuses NUL, and a lone UTF-16 surrogate has no UTF-8 form: a record carrying either
 * used to fail its batch on every retry, so one failed login with such a user name (or a
 * token whose subject held one) blocked every later event. Runs on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomUUIDv7 } from 'node:crypto';
import { AuditWriter } from '../../src/audit/writer.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { Spool } from '../../src/audit/spool.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import type { AuditDraft } from '../../src/audit/record.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

function draft(fields: Partial<AuditDraft>): AuditDraft {
  return {
    time: Date.now(), instance: 'gw', event: 'gateway.request', eventId: randomUUIDv7(), requestId: 'r1', traceId: null, actor: null, actorKind: 'anonymous',
    action: 'gateway.request', resource: 'GET /', outcome: 'success', decisionId: null, reasons: null, clientAddress: '127.0.0.1', details: '{}', ...fields,
  };
}

for (const backend of await backends()) {
  describe(`audit log on ${backend.name} with characters the store cannot hold`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    it('a NUL or lone surrogate in a failed login\'s user name, a subject or a path cannot block the chain: stored as U+FFFD, later events still written, the chain verifies', async () => {
      const chain = 'poison';
      const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, 'spool-poison'), fsync: false });
      const login = { id: randomUUIDv7(), time: new Date().toISOString(), instance: 'gw', name: 'identity.login.failed', payload: { username: 'adm\u0000in', reason: 'bad password', clientAddress: '10.0.0.9' } };
      writer.append(draftFromEnvelope(login, createRedactor()), true);
      writer.append(draft({ actor: 'svc\ud800', actorKind: 'subject', requestId: 'r\u00002' }));
      writer.append(draft({ resource: 'GET /a\u0000b\udfff', clientAddress: '\u0000' }));
      writer.append(draft({ requestId: 'after-the-poison' }));
      await writer.flush();
      const stats = writer.stats();
      await writer.close();
      assert.equal(stats.failedBatches, 0, 'no batch failed');
      const stored = await createAuditRepo(env.store.db, env.store.dialect).page(chain, 0, 100);
      assert.deepEqual(stored.map((r) => [r.actor, r.requestId, r.resource, r.clientAddress]), [
        ['adm\uFFFDin', null, null, '10.0.0.9'],
        ['svc\uFFFD', 'r\uFFFD2', 'GET /', '127.0.0.1'],
        [null, 'r1', 'GET /a\uFFFDb\uFFFD', '\uFFFD'],
        [null, 'after-the-poison', 'GET /', '127.0.0.1'],
      ]);
      const report = await verifyAudit(env.store, { trustedKeys: [], chain });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    });

    it('a NUL left in the spool by an earlier version is repaired on replay, and the events behind it are written', async () => {
      const chain = 'poison-replay';
      const spoolDir = join(env.db.dir, 'spool-replay');
      const { spool } = Spool.open(spoolDir);
      spool.append(JSON.stringify(draft({ actor: 'x\u0000y', actorKind: 'subject', requestId: 'old-1' })));
      spool.append(JSON.stringify(draft({ requestId: 'old-2' })));
      spool.close();
      const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir, fsync: false });
      await writer.flush();
      await writer.close();
      const stored = await createAuditRepo(env.store.db, env.store.dialect).page(chain, 0, 100);
      assert.deepEqual(stored.map((r) => [r.requestId, r.actor]), [['old-1', 'x\uFFFDy'], ['old-2', null]]);
      assert.equal((await verifyAudit(env.store, { trustedKeys: [], chain })).ok, true);
    });
  });
}
