/**
 * `audit query --actor` and `audit export --actor` find the records up to each chain's mark
 * through `audit_actor_index`, which no hash covers. Someone who can write to the database can
 * edit that table (or the mark in `audit_chain_heads`) so that an actor's records are no longer
 * returned, or returned twice, without touching a single record: `audit verify` must report it,
 * and a forged entry must never make a query return a record of someone else.
 * Runs on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeChain } from './support/chain.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { auditVerifyCommand } from '../../src/audit/commands/verify.ts';
import { auditExportCommand } from '../../src/audit/commands/export.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import { queryAudit } from '../../src/audit/query.ts';
import { verifyAudit, type VerifyReport } from '../../src/audit/verify.ts';
import { Writable } from 'node:stream';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

for (const backend of await backends()) {
  describe(`audit actor index tampering on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let chains = 0;

    /** A chain of 300 records (actors user-0 … user-9), closed cleanly: every record is indexed. */
    async function indexedChain(): Promise<string> {
      const chain = `x${++chains}`;
      await writeChain(env.store, { chain, records: 300, key: env.key, spoolRoot: env.db.dir });
      assert.equal(Number((await env.store.db.selectFrom('audit_chain_heads').select('actor_indexed_seq').where('chain', '=', chain).executeTakeFirstOrThrow()).actor_indexed_seq), 300);
      const report = await verify(chain);
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      return chain;
    }

    const verify = (chain: string) => verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain });

    async function seqsOf(chain: string, actor: string | string[], since?: number): Promise<number[]> {
      const out: number[] = [];
      for await (const r of queryAudit(env.store, { chain, actor, ...(since === undefined ? {} : { since: new Date(since) }) })) out.push(r.seq);
      return out;
    }

    async function recordAt(chain: string, seq: number) {
      return env.store.db.selectFrom('audit_records').select(['actor', 'time']).where('chain', '=', chain).where('seq', '=', seq).executeTakeFirstOrThrow();
    }

    const problem = (report: VerifyReport) => report.problems.map((p) => ({ kind: p.kind, seq: p.seq }))[0];

    it('reports an actor index entry deleted to hide a record from query --actor as kind index, at that record', async () => {
      const chain = await indexedChain();
      const { actor } = await recordAt(chain, 150);
      assert.ok((await seqsOf(chain, actor!)).includes(150));
      await env.store.db.deleteFrom('audit_actor_index').where('chain', '=', chain).where('seq', '=', 150).execute();
      assert.ok(!(await seqsOf(chain, actor!)).includes(150), 'the attack works: the record is hidden from query --actor');
      assert.deepEqual(problem(await verify(chain)), { kind: 'index', seq: 150 });
    });

    it('reports an actor index entry whose time was moved out of a --since window as kind index', async () => {
      const chain = await indexedChain();
      const { actor, time } = await recordAt(chain, 120);
      assert.ok((await seqsOf(chain, actor!, Number(time))).includes(120));
      await env.store.db.updateTable('audit_actor_index').set({ time: Number(time) - 86_400_000 }).where('chain', '=', chain).where('seq', '=', 120).execute();
      assert.ok(!(await seqsOf(chain, actor!, Number(time))).includes(120), 'the attack works: the record is hidden from query --actor --since');
      assert.deepEqual(problem(await verify(chain)), { kind: 'index', seq: 120 });
    });

    it('reports a mark moved past the chain head (records appended later would never be indexed nor scanned) as kind index', async () => {
      const chain = await indexedChain();
      await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 1_000_000 }).where('chain', '=', chain).execute();
      assert.deepEqual(problem(await verify(chain)), { kind: 'index', seq: 301 });
    });

    it('reports a mark moved forward over records that have no entry yet (hidden from query --actor) as kind index, at the first of them', async () => {
      const chain = await indexedChain();
      // As a writer leaves a chain that was not closed cleanly: the last records only in the tail.
      await env.store.db.deleteFrom('audit_actor_index').where('chain', '=', chain).where('seq', '>', 250).execute();
      await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 250 }).where('chain', '=', chain).execute();
      assert.equal((await verify(chain)).ok, true, 'a tail past the mark is how the index works');
      const { actor } = await recordAt(chain, 260);
      assert.ok((await seqsOf(chain, actor!)).includes(260));
      await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 300 }).where('chain', '=', chain).execute();
      assert.ok(!(await seqsOf(chain, actor!)).includes(260), 'the attack works');
      assert.deepEqual(problem(await verify(chain)), { kind: 'index', seq: 251 });
    });

    it('reports the chain head row deleted while records are in the tail (a chain without a head is read from the index alone) as kind index', async () => {
      const chain = await indexedChain();
      await env.store.db.deleteFrom('audit_actor_index').where('chain', '=', chain).where('seq', '>', 250).execute();
      await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 250 }).where('chain', '=', chain).execute();
      await env.store.db.deleteFrom('audit_chain_heads').where('chain', '=', chain).execute();
      const { actor } = await recordAt(chain, 260);
      assert.ok(!(await seqsOf(chain, actor!)).includes(260), 'the attack works');
      assert.deepEqual(problem(await verify(chain)), { kind: 'index', seq: 251 });
    });

    it('never returns another actor\'s record for a forged entry, and reports the forged entry as kind index', async () => {
      const chain = await indexedChain();
      const { actor, time } = await recordAt(chain, 77);
      assert.notEqual(actor, 'mallory');
      await env.store.db.insertInto('audit_actor_index').values({ actor: 'mallory', time: Number(time), chain, seq: 77 }).execute();
      assert.deepEqual(await seqsOf(chain, 'mallory'), []);
      assert.deepEqual(problem(await verify(chain)), { kind: 'index', seq: 77 });
    });

    it('reports a second entry of a record (under another name of the same person, or another time) that makes query --actor return it twice as kind index', async () => {
      const chain = await indexedChain();
      const { actor, time } = await recordAt(chain, 88);
      await env.store.db.insertInto('audit_actor_index').values({ actor: 'alice@example.com', time: Number(time), chain, seq: 88 }).execute();
      const seqs = await seqsOf(chain, [actor!, 'alice@example.com']);
      assert.equal(seqs.filter((s) => s === 88).length, 2, 'the attack works: the record is listed twice');
      assert.deepEqual(problem(await verify(chain)), { kind: 'index', seq: 88 });
    });

    it('gatehouse audit verify exits 1 and names the record whose entry was deleted; audit export --actor leaves the record out meanwhile', async () => {
      const chain = await indexedChain();
      // The chain's public key, given as verify --public-key takes it; no signing key file.
      const publicKey = join(env.db.dir, `public-${chain}.jwk`);
      await writeFile(publicKey, JSON.stringify(env.key.publicJwk));
      const config = { dataDir: env.db.dir, audit: auditSchema.parse({ signingKeyFile: join(env.db.dir, 'absent.jwk') }) };
      const { actor } = await recordAt(chain, 42);
      await env.store.db.deleteFrom('audit_actor_index').where('chain', '=', chain).where('seq', '=', 42).execute();
      let text = '';
      const out = new Writable({ write(chunk: Buffer, _e, done) { text += chunk.toString(); done(); } });
      await auditExportCommand(env.store, config.audit, { to: 'jsonl', chain, actor: actor! }, out);
      const seqs = text.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
      assert.ok(seqs.length > 0 && !seqs.includes(42), 'the attack works on export too');
      const r = await auditVerifyCommand(env.store, config, { chain, publicKeys: [publicKey] });
      assert.equal(r.exitCode, 1, r.output);
      assert.match(r.output, new RegExp(`TAMPERED chain ${chain} seq 42: index — record 42 has no actor index entry`));
    });

    it('leaves entries past the mark (a run that stopped half way) and entries of records retention already cut alone', async () => {
      const chain = await indexedChain();
      await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 250 }).where('chain', '=', chain).execute();
      await env.store.db.updateTable('audit_actor_index').set({ actor: 'someone-else' }).where('chain', '=', chain).where('seq', '=', 290).execute();
      await env.store.db.insertInto('audit_actor_index').values({ actor: 'gone', time: 1, chain, seq: 0 }).execute();
      assert.equal((await verify(chain)).ok, true);
    });
  });
}
