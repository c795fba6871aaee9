/**
 * Tampering with the audit log directly in the store (SQL through the store's query
 * builder) is detected by `verifyAudit`, which names the kind and the first record.
 * Runs on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUIDv7 } from 'node:crypto';
import { sql } from 'kysely';
import { rewriteChainFrom, writeChain } from './support/chain.ts';
import { applyRetention } from '../../src/audit/retention.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { recordHash } from '../../src/audit/hash.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

for (const backend of await backends()) {
  describe(`audit tamper evidence on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let chains = 0;

    /** A fresh chain of `n` records with checkpoints every 100 records. */
    async function chainOf(n: number): Promise<string> {
      const chain = `c${++chains}`;
      await writeChain(env.store, { chain, records: n, key: env.key, spoolRoot: env.db.dir });
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.records, n);
      return chain;
    }

    const verify = (chain: string) => verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, batchSize: 64 });

    it('verifies an untouched chain, its checkpoints and its head', async () => {
      const chain = await chainOf(250);
      const report = await verify(chain);
      assert.equal(report.ok, true);
      // Checkpoints at 100 and 200, and the one the writer signs at close (250).
      assert.deepEqual(report.chains.map((c) => [c.records, c.firstSeq, c.lastSeq, c.checkpoints]), [[250, 1, 250, 3]]);
    });

    it('reports a record whose details were modified in place as modified, at its seq', async () => {
      const chain = await chainOf(300);
      await env.store.db.updateTable('audit_records').set({ details: '{"status":200,"path":"/nothing-to-see"}' }).where('chain', '=', chain).where('seq', '=', 150).execute();
      const report = await verify(chain);
      assert.equal(report.ok, false);
      assert.deepEqual(pick(report.problems[0]), { kind: 'modified', seq: 150 });
    });

    it('reports a deleted record as deleted, at its seq', async () => {
      const chain = await chainOf(300);
      await env.store.db.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '=', 150).execute();
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'deleted', seq: 150 });
    });

    it('reports the start of a chain deleted up to a signed checkpoint (as retention would cut, but without its record) as deleted; a real retention cut verifies', async () => {
      const chain = await chainOf(300);
      // With the checkpoint rows before it gone too, as retention leaves them.
      await env.store.db.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '<=', 100).execute();
      await env.store.db.deleteFrom('audit_checkpoints').where('chain', '=', chain).where('seq', '<', 100).execute();
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'deleted', seq: 1 });

      const cut = await chainOf(300);
      const r = await applyRetention(env.store, { chain: cut, maxAgeMs: 0, now: Date.now() + 1000, signingKey: env.key });
      // The writer signs a checkpoint at close: everything up to it is cut, and the chain goes on with the record of the cut.
      assert.equal(r.cutAt, 300);
      const report = await verify(cut);
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.deepEqual(report.chains.map((c) => [c.startedFrom, c.firstSeq, c.records]), [[300, 301, 1]]);
    });

    it('reports the start of a chain deleted up to a signed checkpoint, with a forged retention record appended at the head (no signing key), as deleted, even against checkpoints exported before', async () => {
      const chain = await chainOf(300);
      const before = (await createAuditRepo(env.store.db, env.store.dialect).checkpoints(chain));
      await forgeRetentionCut(chain, 200);
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'deleted', seq: 1 });
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, exported: before });
      assert.deepEqual(pick(report.problems[0]), { kind: 'deleted', seq: 1 });
    });

    it('reports the start of a chain cut with a retention record signed by a key verify does not trust as deleted', async () => {
      const chain = await chainOf(300);
      const other = await signingKeyFromJwk(await generateSigningJwk());
      // Retention cuts only at checkpoints it can check: told to trust the chain's key, it signs the cut with the other.
      await applyRetention(env.store, { chain, maxAgeMs: 0, now: Date.now() + 1000, signingKey: other, trustedKeys: [env.key.publicJwk] });
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'deleted', seq: 1 });
    });

    it('reports a chain cut with a copy of another cut\'s signed retention record (another chain, or edited to name a deeper cut) as deleted', async () => {
      const real = await chainOf(300);
      await applyRetention(env.store, { chain: real, maxAgeMs: 0, now: Date.now() + 1000, signingKey: env.key });
      const [record] = await createAuditRepo(env.store.db, env.store.dialect).page(real, 300, 1);
      const details = JSON.parse(record!.details) as Record<string, unknown>;
      assert.equal(details.cutAt, 300);
      const copied = await chainOf(300);
      await forgeRetentionCut(copied, 300, record!.details);
      assert.deepEqual(pick((await verify(copied)).problems[0]), { kind: 'deleted', seq: 1 });
      const edited = await chainOf(300);
      await forgeRetentionCut(edited, 200, JSON.stringify({ ...details, cutAt: 200 }));
      assert.deepEqual(pick((await verify(edited)).problems[0]), { kind: 'deleted', seq: 1 });
    });

    /**
     * What someone who can write to the database but cannot sign does to hide the start of a
     * chain: delete it up to a signed checkpoint, as retention would, and append (hash and
     * link recomputed, head moved) a record that claims the cut.
     */
    async function forgeRetentionCut(chain: string, cutAt: number, details = JSON.stringify({ cutAt, deletedRecords: cutAt, deletedCheckpoints: 1, maxAgeMs: 0 })): Promise<void> {
      const repo = createAuditRepo(env.store.db, env.store.dialect);
      const head = (await repo.head(chain))!;
      await env.store.transaction(async (trx) => {
        await trx.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '<=', cutAt).execute();
        await trx.deleteFrom('audit_checkpoints').where('chain', '=', chain).where('seq', '<', cutAt).execute();
        const forged = {
          time: Date.now(), instance: 'retention', event: 'audit.retention.applied', eventId: randomUUIDv7(), requestId: null, traceId: null,
          actor: 'retention', actorKind: 'system', action: 'audit.retention.applied', resource: `audit:${chain}`, outcome: 'success' as const,
          decisionId: null, reasons: null, clientAddress: null, details, chain, prevHash: head.hash,
        };
        const hash = recordHash(forged);
        await createAuditRepo(trx, env.store.dialect).insertRecords([{ ...forged, seq: head.seq + 1, hash }]);
        await trx.updateTable('audit_chain_heads').set({ seq: head.seq + 1, hash }).where('chain', '=', chain).execute();
      });
    }

    it('reports two swapped records as reordered, at the first', async () => {
      const chain = await chainOf(300);
      await env.store.transaction(async (trx) => {
        const swap = (from: number, to: number) => trx.updateTable('audit_records').set({ seq: to }).where('chain', '=', chain).where('seq', '=', from).execute();
        await swap(150, -1);
        await swap(151, 150);
        await swap(-1, 151);
      });
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'reordered', seq: 150 });
    });

    it('reports a forged record inserted mid-chain (with a correct hash and link, later records renumbered) as inserted', async () => {
      const chain = await chainOf(300);
      const repo = createAuditRepo(env.store.db, env.store.dialect);
      const [before149] = await repo.page(chain, 148, 1);
      await env.store.transaction(async (trx) => {
        // Two steps, so the primary key never collides on either backend.
        await trx.updateTable('audit_records').set({ seq: sql`seq + 1000000` }).where('chain', '=', chain).where('seq', '>=', 150).execute();
        await trx.updateTable('audit_records').set({ seq: sql`seq - 999999` }).where('chain', '=', chain).where('seq', '>=', 1000000).execute();
        const forged = { ...accessDraft(9999, { subject: 'mallory' }), eventId: randomUUIDv7(), chain, prevHash: before149!.hash };
        await createAuditRepo(trx, env.store.dialect).insertRecords([{ ...forged, seq: 150, hash: recordHash(forged) }]);
      });
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'inserted', seq: 150 });
    });

    it('reports records cut off before the last signed checkpoint as truncated', async () => {
      const chain = await chainOf(300);
      await env.store.db.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '>', 250).execute();
      // Even with the head row rewritten to match, the signed checkpoint at 300 remains.
      await env.store.db.updateTable('audit_chain_heads').set({ seq: 250 }).where('chain', '=', chain).execute();
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'truncated', seq: 251 });
    });

    it('reports records cut off after the last checkpoint as truncated (the chain head still names them)', async () => {
      const chain = await chainOf(310);
      await env.store.db.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '>', 305).execute();
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'truncated', seq: 306 });
    });

    it('reports a chain rewritten from a record onwards (every hash recomputed, head moved) as modified at the next signed checkpoint', async () => {
      const chain = await chainOf(300);
      await rewriteChainFrom(env.store, chain, 150);
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'modified', seq: 200 });
    });

    it('reports a checkpoint whose signature or contents were altered', async () => {
      const chain = await chainOf(200);
      await env.store.db.updateTable('audit_checkpoints').set({ hash: 'f'.repeat(64) }).where('chain', '=', chain).where('seq', '=', 100).execute();
      assert.deepEqual(pick((await verify(chain)).problems[0]), { kind: 'checkpoint', seq: 100 });
    });

    it('refuses checkpoints signed by a key it was not told to trust', async () => {
      const chain = await chainOf(100);
      const other = await signingKeyFromJwk(await generateSigningJwk());
      const report = await verifyAudit(env.store, { trustedKeys: [other.publicJwk], chain });
      assert.deepEqual(pick(report.problems[0]), { kind: 'checkpoint', seq: 100 });
    });
  });
}

function pick(p: { kind: string; seq: number } | undefined): { kind: string; seq: number } | undefined {
  return p ? { kind: p.kind, seq: p.seq } : undefined;
}
