/**
 * A clean shutdown signs what was written since the last periodic checkpoint. Without that,
 * the records of a writer's last minutes stayed unsigned after `close()`, and someone who can
 * write to the database could cut them off together with the head row: `audit verify` had
 * nothing that named them and passed the shortened chain. Real writer, SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

for (const backend of await backends()) {
  describe(`audit writer close() on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let chains = 0;

    /** Writes `n` records with a periodic checkpoint every 100 and closes the writer cleanly. */
    async function written(n: number): Promise<{ chain: string; writer: AuditWriter }> {
      const chain = `close${++chains}`;
      const writer = AuditWriter.open({ store: env.store, chain, instance: 'gw-1', spoolDir: join(env.db.dir, `spool-${chain}`), signingKey: env.key, checkpointEveryRecords: 100, batchMaxEvents: 50 });
      for (let i = 1; i <= n; i++) {
        writer.append(accessDraft(i));
        if (i % 50 === 0) await writer.flush();
      }
      await writer.close();
      return { chain, writer };
    }

    const repo = () => createAuditRepo(env.store.db, env.store.dialect);

    it('signs a final checkpoint at the last record on a clean close when records were appended since the last periodic one', async () => {
      const { chain, writer } = await written(130);
      assert.deepEqual((await repo().checkpoints(chain)).map((c) => c.seq), [100, 130]);
      assert.equal(writer.stats().checkpoints, 2);
    });

    it('signs nothing more on close when the last periodic checkpoint already covers every record', async () => {
      const { chain } = await written(100);
      assert.deepEqual((await repo().checkpoints(chain)).map((c) => c.seq), [100]);
    });

    it('an attacker who cuts the records written after the last periodic checkpoint, head row included, after a clean shutdown: verify reports the chain truncated', async () => {
      const { chain } = await written(130);
      await env.store.db.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '>', 100).execute();
      await env.store.db.updateTable('audit_chain_heads').set({ seq: 100, hash: (await repo().checkpoints(chain))[0]!.hash }).where('chain', '=', chain).execute();
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain });
      assert.equal(report.ok, false);
      assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['truncated', 101]]);
    });
  });
}
