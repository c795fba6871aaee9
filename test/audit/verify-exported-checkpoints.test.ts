/**
 * `audit verify --checkpoints FILE`: the checkpoints exported with `audit checkpoint export`
 * and kept outside Gatehouse are what defeats an attacker who can rewrite the whole
 * database (records, checkpoint rows and the chain head together). Judged only with the
 * keys verify trusts, never with the keys the file itself carries. SQLite and PostgreSQL.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rewriteChainFrom, writeChain } from './support/chain.ts';
import { signCheckpoint } from '../../src/audit/checkpoint.ts';
import { generateSigningJwk, signingKeyFromJwk, type AuditSigningKey } from '../../src/audit/signing-key.ts';
import { auditCheckpointExportCommand, type CheckpointExport } from '../../src/audit/commands/checkpoint-export.ts';
import { auditVerifyCommand } from '../../src/audit/commands/verify.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

for (const backend of await backends()) {
  describe(`audit verify against exported checkpoints on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);
    let key: AuditSigningKey;
    let keyFile: string;
    let files = 0;
    let chains = 0;

    // Its own key, not the helper's: the commands under test read it from a key file.
    before(async () => {
      const jwk = await generateSigningJwk();
      key = await signingKeyFromJwk(jwk);
      keyFile = join(env.db.dir, 'audit-signing-key.jwk');
      await writeFile(keyFile, JSON.stringify(jwk), { mode: 0o600 });
    });

    const config = () => ({ dataDir: env.db.dir, audit: auditSchema.parse({ signingKeyFile: keyFile }) });

    async function chainOf(n: number): Promise<string> {
      const chain = `x${++chains}`;
      await writeChain(env.store, { chain, records: n, key, spoolRoot: env.db.dir });
      return chain;
    }

    async function exported(chain: string, edit: (e: CheckpointExport) => void = () => {}): Promise<string> {
      const e = await auditCheckpointExportCommand(env.store, config(), { chain });
      edit(e);
      const file = join(env.db.dir, `checkpoints-${++files}.json`);
      await writeFile(file, JSON.stringify(e));
      return file;
    }

    /** What an attacker with write access to the database (not the key) does: cut the chain back to `seq`, checkpoints and head included. */
    async function cutBackTo(chain: string, seq: number): Promise<void> {
      const head = (await createAuditRepo(env.store.db, env.store.dialect).page(chain, seq - 1, 1))[0]!;
      await env.store.transaction(async (trx) => {
        await trx.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '>', seq).execute();
        await trx.deleteFrom('audit_checkpoints').where('chain', '=', chain).where('seq', '>', seq).execute();
        // The actor index too: its mark past the head would give the cut away.
        await trx.deleteFrom('audit_actor_index').where('chain', '=', chain).where('seq', '>', seq).execute();
        await trx.updateTable('audit_chain_heads').set({ seq, hash: head.hash, actor_indexed_seq: seq }).where('chain', '=', chain).execute();
      });
    }

    const verify = (chain: string, checkpointsFile?: string) => auditVerifyCommand(env.store, config(), { chain, ...(checkpointsFile ? { checkpointsFile } : {}) });
    const firstProblem = (r: Awaited<ReturnType<typeof verify>>) => r.report.problems[0] && { kind: r.report.problems[0].kind, seq: r.report.problems[0].seq };

    it('verifies an untouched chain against its exported checkpoints', async () => {
      const chain = await chainOf(300);
      const r = await verify(chain, await exported(chain));
      assert.equal(r.exitCode, 0, r.output);
      assert.equal(r.report.chains[0]!.checkpoints, 3);
    });

    it('chain cut back together with its checkpoint rows and head is reported as truncated against the exported checkpoints', async () => {
      const chain = await chainOf(300);
      const file = await exported(chain);
      await cutBackTo(chain, 150);
      // The database alone cannot tell: this is the documented limit.
      assert.equal((await verify(chain)).exitCode, 0);
      const r = await verify(chain, file);
      assert.equal(r.exitCode, 1);
      assert.deepEqual(firstProblem(r), { kind: 'truncated', seq: 151 });
    });

    it('chain rewritten with recomputed hashes and its later checkpoint rows deleted is reported as modified at the exported checkpoint', async () => {
      const chain = await chainOf(300);
      const file = await exported(chain);
      await rewriteChainFrom(env.store, chain, 150, async (trx) => {
        await trx.deleteFrom('audit_checkpoints').where('chain', '=', chain).where('seq', '>', 100).execute();
      });
      assert.equal((await verify(chain)).exitCode, 0);
      assert.deepEqual(firstProblem(await verify(chain, file)), { kind: 'modified', seq: 200 });
    });

    it('exported checkpoint signed by a key that only the export file carries is refused', async () => {
      const chain = await chainOf(200);
      const forger = await signingKeyFromJwk(await generateSigningJwk());
      const forged = await signCheckpoint(forger, { chain, seq: 900, hash: 'a'.repeat(64), time: Date.now(), instance: 'test-1' });
      const file = await exported(chain, (e) => { e.keys.push(forger.publicJwk); e.checkpoints.push(forged); });
      const r = await verify(chain, file);
      assert.equal(r.exitCode, 1);
      assert.deepEqual(firstProblem(r), { kind: 'checkpoint', seq: 900 });
    });

    it('exported checkpoint of another chain replayed under this chain is refused', async () => {
      const other = await chainOf(100);
      const chain = await chainOf(100);
      const file = await exported(other, (e) => { for (const c of e.checkpoints) c.chain = chain; });
      const r = await verify(chain, file);
      assert.equal(r.exitCode, 1);
      assert.deepEqual(firstProblem(r), { kind: 'checkpoint', seq: 100 });
    });

    it('a file that is not a checkpoint export is refused with ERR_AUDIT_CHECKPOINTS_INVALID', async () => {
      const chain = await chainOf(100);
      const file = join(env.db.dir, `checkpoints-${++files}.json`);
      await writeFile(file, JSON.stringify({ format: 'something-else', checkpoints: [] }));
      await assert.rejects(verify(chain, file), { code: 'ERR_AUDIT_CHECKPOINTS_INVALID' });
    });
  });
}
