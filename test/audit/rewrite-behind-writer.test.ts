/**
 * Someone who can write to the database but cannot sign rewrites the records written since the
 * last checkpoint (hashes and links recomputed, head moved) while Gatehouse runs. The next
 * checkpoint must not vouch for the rewrite: the writer remembers what it wrote, and when the
 * chain under its next batch no longer holds it, it signs what it wrote instead, so `verify`
 * reports the rewrite. SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUIDv7 } from 'node:crypto';
import { join } from 'node:path';
import { rewriteChainFrom } from './support/chain.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { recordHash } from '../../src/audit/hash.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

for (const backend of await backends()) {
  describe(`audit chain rewritten behind a running writer on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let chains = 0;

    /** A writer on a fresh chain that has written 30 records (3 batches) and no checkpoint yet. */
    async function running(): Promise<{ chain: string; writer: AuditWriter }> {
      const chain = `w${++chains}`;
      const writer = AuditWriter.open({ store: env.store, chain, instance: 'gw-1', spoolDir: join(env.db.dir, `spool-${chain}`), signingKey: env.key, checkpointEveryRecords: 100, batchMaxEvents: 10 });
      for (let i = 1; i <= 30; i++) {
        writer.append(accessDraft(i));
        if (i % 10 === 0) await writer.flush();
      }
      return { chain, writer };
    }

    async function goOn(writer: AuditWriter): Promise<void> {
      for (let i = 31; i <= 130; i++) {
        writer.append(accessDraft(i));
        if (i % 10 === 0) await writer.flush();
      }
      await writer.close();
    }

    const problem = async (chain: string) => {
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain });
      assert.ok(report.chains[0]!.checkpoints >= 1, 'the writer went on signing');
      return report.problems[0] && { kind: report.problems[0].kind, seq: report.problems[0].seq };
    };

    it('reports records rewritten after the last checkpoint (head moved to the new hash) as modified, though the writer went on and signed later checkpoints', async () => {
      const { chain, writer } = await running();
      await rewriteChainFrom(env.store, chain, 15);
      await goOn(writer);
      assert.deepEqual(await problem(chain), { kind: 'modified', seq: 30 });
    });

    it('also when the rewrite appends a record of its own (the head moved past what the writer wrote)', async () => {
      const { chain, writer } = await running();
      await rewriteChainFrom(env.store, chain, 25);
      const repo = createAuditRepo(env.store.db, env.store.dialect);
      const head = (await repo.head(chain))!;
      const forged = { ...accessDraft(999, { subject: 'mallory' }), eventId: randomUUIDv7(), chain, prevHash: head.hash };
      const hash = recordHash(forged);
      await env.store.transaction(async (trx) => {
        await createAuditRepo(trx, env.store.dialect).insertRecords([{ ...forged, seq: head.seq + 1, hash }]);
        await trx.updateTable('audit_chain_heads').set({ seq: head.seq + 1, hash }).where('chain', '=', chain).execute();
      });
      await goOn(writer);
      assert.deepEqual(await problem(chain), { kind: 'modified', seq: 30 });
    });

    it('reports records cut off after the last checkpoint together with the head as modified where the writer\'s own record was', async () => {
      const { chain, writer } = await running();
      const repo = createAuditRepo(env.store.db, env.store.dialect);
      const [at20] = await repo.page(chain, 19, 1);
      await env.store.transaction(async (trx) => {
        await trx.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '>', 20).execute();
        await trx.updateTable('audit_chain_heads').set({ seq: 20, hash: at20!.hash }).where('chain', '=', chain).execute();
      });
      await goOn(writer);
      assert.deepEqual(await problem(chain), { kind: 'modified', seq: 30 });
    });

    it('leaves an untouched chain, and one another writer appends to between its batches, verifying', async () => {
      const { chain, writer } = await running();
      const other = AuditWriter.open({ store: env.store, chain, instance: 'gw-2', spoolDir: join(env.db.dir, `spool-${chain}-2`), batchMaxEvents: 10 });
      for (let i = 0; i < 5; i++) other.append(accessDraft(500 + i));
      await other.close();
      await goOn(writer);
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.records, 135);
    });
  });
}
