/**
 * An insider who edits a record and recomputes every hash after it (head row included) is caught
 * at the next signed checkpoint; the report named only that checkpoint's seq, so the operator
 * was told "the chain up to record 200 was rewritten" with nothing saying where to look. The
 * checkpoint before it still matches, so the changed record lies between the two: the report
 * now names that range. Runs on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteChainFrom, writeChain } from './support/chain.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

for (const backend of await backends()) {
  describe(`a chain rewritten with recomputed hashes on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });

    it('an edited record 150, every later hash recomputed: reported at the checkpoint at 200, naming records 101..200 (the checkpoint at 100 still matches)', async () => {
      await writeChain(env.store, { chain: 'r1', records: 300, key: env.key, spoolRoot: env.db.dir });
      await rewriteChainFrom(env.store, 'r1', 150);
      for (const batchSize of [64, 1000]) {
        const problem = (await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain: 'r1', batchSize })).problems[0];
        assert.equal(problem?.kind, 'modified');
        assert.equal(problem?.seq, 200);
        assert.match(problem!.message, /records 101\.\.200 were changed \(the checkpoint at seq 100 still matches\)/);
      }
    });

    it('an edited first record: the range starts at record 1', async () => {
      await writeChain(env.store, { chain: 'r2', records: 150, key: env.key, spoolRoot: env.db.dir });
      await rewriteChainFrom(env.store, 'r2', 2);
      const problem = (await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain: 'r2' })).problems[0];
      assert.equal(problem?.seq, 100);
      assert.match(problem!.message, /records 1\.\.100 were changed$/);
    });
  });
}
