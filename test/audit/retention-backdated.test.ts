/**
 * Retention decides what is old from the records' `time` column and cuts at a checkpoint row:
 * both are only what the database says until they are checked. Someone who can write to the
 * database but cannot sign must not be able to make the instance's own retention delete recent
 * records for them — and sign the cut, after which `audit verify` accepts the shortened chain
 * as a legitimate one. SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeChain } from './support/chain.ts';
import { applyRetention } from '../../src/audit/retention.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { recordHash } from '../../src/audit/hash.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

const DAY = 86_400_000;
const YEARS_AGO = Date.now() - 10 * 365 * DAY;

for (const backend of await backends()) {
  describe(`audit retention against a tampered database on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let chains = 0;

    /** 250 records of today, checkpoints at 100, 200 and 250. */
    async function chainOf(): Promise<string> {
      const chain = `r${++chains}`;
      await writeChain(env.store, { chain, records: 250, key: env.key, spoolRoot: env.db.dir });
      return chain;
    }

    const pick = (p: { kind: string; seq: number } | undefined) => p && { kind: p.kind, seq: p.seq };

    it('records of today backdated ten years in the database are not deleted by retention (no cut, no signed retention record), and verify reports them modified', async () => {
      const chain = await chainOf();
      await env.store.db.updateTable('audit_records').set({ time: YEARS_AGO }).where('chain', '=', chain).where('seq', '<=', 200).execute();

      const r = await applyRetention(env.store, { chain, maxAgeMs: 30 * DAY, signingKey: env.key });
      assert.deepEqual([r.cutAt, r.deletedRecords], [undefined, 0]);
      assert.equal(await createAuditRepo(env.store.db, env.store.dialect).firstSeq(chain), 1, 'every record is still there');
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain });
      assert.deepEqual(pick(report.problems[0]), { kind: 'modified', seq: 1 });
    });

    it('records of today rewritten as ten years old (hashes and links recomputed) under a checkpoint row planted with a replayed signature are not deleted by retention', async () => {
      const chain = await chainOf();
      const repo = createAuditRepo(env.store.db, env.store.dialect);
      const records = await repo.page(chain, 0, 150);
      const [real] = await repo.checkpoints(chain);
      let prev = records[0]!.prevHash;
      await env.store.transaction(async (trx) => {
        for (const rec of records) {
          const hash = recordHash({ ...rec, time: YEARS_AGO, prevHash: prev });
          await trx.updateTable('audit_records').set({ time: YEARS_AGO, prev_hash: prev, hash }).where('chain', '=', chain).where('seq', '=', rec.seq).execute();
          prev = hash;
        }
        // A checkpoint at 150 naming the rewritten hash, with the key id and JWS of the real one at 100.
        await trx.insertInto('audit_checkpoints').values({ chain, seq: 150, hash: prev, time: YEARS_AGO, instance: 'test-1', kid: real!.kid, jws: real!.jws, created_at: YEARS_AGO }).execute();
      });

      const r = await applyRetention(env.store, { chain, maxAgeMs: 30 * DAY, signingKey: env.key });
      assert.deepEqual([r.cutAt, r.deletedRecords], [undefined, 0]);
      assert.equal(await repo.firstSeq(chain), 1, 'every record is still there');
      assert.equal((await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain })).ok, false);
    });

    it('an untouched chain whose records are old is still cut at its newest checkpoint, and verifies', async () => {
      const chain = await chainOf();
      const r = await applyRetention(env.store, { chain, maxAgeMs: 0, now: Date.now() + 1000, signingKey: env.key });
      assert.deepEqual([r.cutAt, r.deletedRecords], [250, 250]);
      assert.equal((await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain })).ok, true);
    });
  });
}
