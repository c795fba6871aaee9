/**
 * Retention deletes by age, and record time follows seq only roughly: an event the bus delivers
 * again days after it was published, or an instance whose clock is behind, lands at the head
 * with an old time. A checkpoint there must not let retention delete the younger records before
 * it. SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { applyRetention } from '../../src/audit/retention.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

const DAY = 86_400_000;

for (const backend of await backends()) {
  describe(`audit retention by age on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });

    it('never deletes a record younger than the retention, when an old event (delivered again days later) carries the checkpoint after it', async () => {
      const now = Date.now();
      const writer = AuditWriter.open({ store: env.store, instance: 'gw-1', spoolDir: join(env.db.dir, 'spool'), signingKey: env.key, checkpointEveryRecords: 10, batchMaxEvents: 10 });
      // 1..20 three days old, 21..30 from today, 31..40 three days old again (redelivered): checkpoints at 10, 20, 30, 40.
      for (let i = 1; i <= 40; i++) {
        writer.append({ ...accessDraft(i), time: i > 20 && i <= 30 ? now - 60_000 : now - 3 * DAY });
        if (i % 10 === 0) await writer.flush();
      }
      await writer.close();
      assert.deepEqual((await createAuditRepo(env.store.db, env.store.dialect).checkpoints('main')).map((c) => c.seq), [10, 20, 30, 40]);

      const r = await applyRetention(env.store, { chain: 'main', maxAgeMs: DAY, now, signingKey: env.key });
      assert.deepEqual([r.cutAt, r.deletedRecords], [20, 20]);
      const young = [];
      for (const rec of await createAuditRepo(env.store.db, env.store.dialect).page('main', 0, 100)) if (rec.event === 'gateway.request' && rec.time > now - DAY) young.push(rec.seq);
      assert.deepEqual(young, [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk] });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.chains[0]!.startedFrom, 20);
    });
  });
}
