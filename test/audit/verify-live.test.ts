/**
 * `audit verify` on a live system: the gateway keeps appending while an operator verifies.
 * Records committed after verification started are a chain's normal growth, not tampering;
 * verify must not report them as "inserted after the chain head" — while a record added
 * behind the writer's back (the head not moved) still is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomUUIDv7 } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { recordHash } from '../../src/audit/hash.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

const APPEND_LOOP = fileURLToPath(new URL('./fixtures/append-loop.ts', import.meta.url));

for (const backend of await backends()) {
  describe(`audit verify while the chain grows, on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    /** Writes `n` access records to `chain` and waits until they are committed. */
    async function writeChain(chain: string, n: number): Promise<void> {
      const writer = AuditWriter.open({ store: env.store, chain, instance: 'gw-1', spoolDir: join(env.db.dir, `spool-${chain}`), fsync: false });
      for (let i = 0; i < n; i++) writer.append(accessDraft(i));
      await writer.flush();
      await writer.close();
    }

    it('records appended while verify runs are not reported as inserted: the report is ok and covers at least the records present at the start', async () => {
      const chain = 'live';
      await writeChain(chain, 3000);
      // The gateway's writer, in its own process, keeps the chain growing.
      const child = spawn(process.execPath, [APPEND_LOOP, env.db.url, join(env.db.dir, 'spool-child'), chain], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('appending')) resolve(); });
        child.once('exit', (code) => reject(new Error(`appender exited ${code}`)));
      });
      let grewDuring = 0;
      const reports = [];
      try {
        // Small pages: verify runs long enough for many of the appender's commits.
        for (let round = 0; round < 3; round++) {
          const before = (await createAuditRepo(env.store.db, env.store.dialect).head(chain))!.seq;
          reports.push(await verifyAudit(env.store, { trustedKeys: [], chain, batchSize: 50 }));
          grewDuring = Math.max(grewDuring, (await createAuditRepo(env.store.db, env.store.dialect).head(chain))!.seq - before);
        }
      } finally {
        child.kill('SIGTERM');
        assert.equal(await exited, 0, 'the appender stopped cleanly');
      }
      for (const report of reports) {
        assert.deepEqual(report.problems, [], 'no problem reported for records written during verification');
        assert.ok(report.records >= 3000);
      }
      assert.ok(grewDuring > 0, 'the chain grew while verify ran (else this test shows nothing)');
      const settled = await verifyAudit(env.store, { trustedKeys: [], chain });
      assert.equal(settled.ok, true, JSON.stringify(settled.problems));
    });

    it('a record appended behind the writer\'s back (head not moved) is still reported as inserted', async () => {
      const chain = 'behind';
      await writeChain(chain, 50);
      const repo = createAuditRepo(env.store.db, env.store.dialect);
      const head = (await repo.head(chain))!;
      const forged = { ...accessDraft(999, { subject: 'mallory' }), eventId: randomUUIDv7(), chain, prevHash: head.hash };
      await repo.insertRecords([{ ...forged, seq: head.seq + 1, hash: recordHash(forged) }]);
      const report = await verifyAudit(env.store, { trustedKeys: [], chain, batchSize: 20 });
      assert.equal(report.ok, false);
      assert.equal(report.problems[0]?.kind, 'inserted');
      assert.equal(report.problems[0]?.seq, head.seq + 1);
    });

    it('a chain head whose hash was rewritten (records intact, no checkpoint there) is reported as modified at the head\'s seq', async () => {
      const chain = 'head-hash';
      await writeChain(chain, 30);
      await env.store.db.updateTable('audit_chain_heads').set({ hash: 'f'.repeat(64) }).where('chain', '=', chain).execute();
      for (const batchSize of [7, 10_000]) {
        const report = await verifyAudit(env.store, { trustedKeys: [], chain, batchSize });
        assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', 30]], `pages of ${batchSize}`);
      }
    });
  });
}
