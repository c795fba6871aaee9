/**
 * Every column of a stored record is covered: a change to any of them — including columns a later
 * migration might add — is reported by `audit verify`. The columns are read from the database
 * itself, not from a list kept here, so a new column that no hash covers fails this test. Also
 * the spellings that look the same to a person or to a JSON parser but not to the hash: null
 * against an empty string, NFC against NFD, details with its keys reordered or a key repeated,
 * and (SQLite, which stores any type in any column) the same bytes as a BLOB. And checkpoints: a row with the key id of a trusted key and a signature that is not its,
 * a valid signature moved to another seq or chain. Runs on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { writeChain } from './support/chain.ts';
import { verifyAudit, type VerifyReport } from '../../src/audit/verify.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

/** What a change of each column is reported as (the rest: modified at that record). */
const POSITION: Record<string, string> = { seq: 'deleted', chain: 'deleted' };

for (const backend of await backends()) {
  describe(`audit verify covers every column on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let chains = 0;

    async function chainOf(n = 120): Promise<string> {
      const chain = `k${++chains}`;
      await writeChain(env.store, { chain, records: n, key: env.key, spoolRoot: env.db.dir });
      return chain;
    }
    const verify = (chain: string) => verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain });
    const first = (r: VerifyReport) => r.problems[0] && { kind: r.problems[0].kind, seq: r.problems[0].seq };

    async function columns(): Promise<{ name: string; numeric: boolean }[]> {
      if (backend.name === 'sqlite') {
        const { rows } = await sql<{ name: string; type: string }>`select name, type from pragma_table_info('audit_records')`.execute(env.store.db);
        return rows.map((r) => ({ name: r.name, numeric: /int/i.test(r.type) }));
      }
      const { rows } = await sql<{ name: string; type: string }>`select column_name as name, data_type as type from information_schema.columns where table_name = 'audit_records' and table_schema = current_schema()`.execute(env.store.db);
      return rows.map((r) => ({ name: r.name, numeric: /int|numeric/i.test(r.type) }));
    }

    it('reports a change to any column of a record, whichever the column', async () => {
      const cols = await columns();
      assert.ok(cols.length >= 19, JSON.stringify(cols));
      for (const col of cols) {
        const chain = await chainOf();
        const set = col.numeric ? sql`${sql.ref(col.name)} = ${sql.ref(col.name)} + ${col.name === 'seq' ? 1000 : 1}` : sql`${sql.ref(col.name)} = ${`x-${col.name}`}`;
        await sql`update audit_records set ${set} where chain = ${chain} and seq = 50`.execute(env.store.db);
        const report = await verify(chain);
        assert.equal(report.ok, false, `a change of ${col.name} went unnoticed`);
        assert.deepEqual(first(report), { kind: POSITION[col.name] ?? 'modified', seq: 50 }, col.name);
      }
    });

    it('tells null from an empty string, both ways', async () => {
      const chain = await chainOf();
      await env.store.db.updateTable('audit_records').set({ decision_id: '' }).where('chain', '=', chain).where('seq', '=', 40).where('decision_id', 'is', null).execute();
      assert.deepEqual(first(await verify(chain)), { kind: 'modified', seq: 40 });
      const other = await chainOf();
      await env.store.db.updateTable('audit_records').set({ actor: null }).where('chain', '=', other).where('seq', '=', 41).execute();
      assert.deepEqual(first(await verify(other)), { kind: 'modified', seq: 41 });
    });

    it('tells apart details that parse to the same object: keys reordered, a key repeated, blanks added', async () => {
      for (const edit of [
        (d: string) => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(d) as object).reverse())),
        (d: string) => `${d.slice(0, -1)},"status":200}`,
        (d: string) => JSON.stringify(JSON.parse(d), null, 1),
      ]) {
        const chain = await chainOf();
        const row = await env.store.db.selectFrom('audit_records').select('details').where('chain', '=', chain).where('seq', '=', 30).executeTakeFirstOrThrow();
        const changed = edit(row.details);
        assert.notEqual(changed, row.details);
        await env.store.db.updateTable('audit_records').set({ details: changed }).where('chain', '=', chain).where('seq', '=', 30).execute();
        assert.deepEqual(first(await verify(chain)), { kind: 'modified', seq: 30 });
      }
    });

    it('tells an actor in NFC from the same actor in NFD', async () => {
      const chain = `k${++chains}`;
      const { AuditWriter } = await import('../../src/audit/writer.ts');
      const { accessDraft } = await import('./support/events.ts');
      const { join } = await import('node:path');
      const writer = AuditWriter.open({ store: env.store, chain, instance: 'test-1', spoolDir: join(env.db.dir, `spool-${chain}`), signingKey: env.key });
      writer.append(accessDraft(1, { subject: 'Zoë'.normalize('NFC') }));
      writer.append(accessDraft(2));
      await writer.close();
      assert.equal((await verify(chain)).ok, true);
      await env.store.db.updateTable('audit_records').set({ actor: 'Zoë'.normalize('NFD') }).where('chain', '=', chain).where('seq', '=', 1).execute();
      assert.deepEqual(first(await verify(chain)), { kind: 'modified', seq: 1 });
    });

    if (backend.name === 'sqlite') {
      it('SQLite: reports a text column rewritten as a BLOB of the same bytes (it no longer matches a query for the text) as modified', async () => {
        const chain = await chainOf();
        await sql`update audit_records set actor = cast(actor as blob) where chain = ${chain} and seq = 60`.execute(env.store.db);
        assert.deepEqual(first(await verify(chain)), { kind: 'modified', seq: 60 });
      });

    }

    if (backend.name === 'sqlite') {
      it('SQLite: reports a value holding U+FFFD rewritten as bytes that are not UTF-8 (read back as the same text, but no longer equal to it in a query) as modified', async () => {
        const chain = `k${++chains}`;
        const { AuditWriter } = await import('../../src/audit/writer.ts');
        const { accessDraft } = await import('./support/events.ts');
        const { queryAudit } = await import('../../src/audit/query.ts');
        const { join } = await import('node:path');
        const writer = AuditWriter.open({ store: env.store, chain, instance: 'test-1', spoolDir: join(env.db.dir, `spool-${chain}`), signingKey: env.key });
        // A lone surrogate in a subject is stored as U+FFFD (storable.ts).
        writer.append(accessDraft(1, { subject: 'evil\ud800' }));
        writer.append(accessDraft(2));
        await writer.close();
        const byActor = async () => { const out = []; for await (const r of queryAudit(env.store, { chain, actor: 'evil\uFFFD' })) out.push(r.seq); return out; };
        assert.deepEqual(await byActor(), [1]);
        // The index would give it away below the mark: keep the record in the tail, as an unclean stop leaves it.
        await env.store.db.deleteFrom('audit_actor_index').where('chain', '=', chain).execute();
        await env.store.db.updateTable('audit_chain_heads').set({ actor_indexed_seq: 0 }).where('chain', '=', chain).execute();
        assert.equal((await verify(chain)).ok, true);
        await sql`update audit_records set actor = cast(x'6576696cff' as text) where chain = ${chain} and seq = 1`.execute(env.store.db);
        assert.deepEqual(await byActor(), [], 'the attack works: the record is hidden from query --actor');
        assert.deepEqual(first(await verify(chain)), { kind: 'modified', seq: 1 });
      });
    }

    it('reports a checkpoint row with the key id of a trusted key and a signature that is not its own', async () => {
      const chain = await chainOf(250);
      const other = await signingKeyFromJwk(await generateSigningJwk());
      const cp = await env.store.db.selectFrom('audit_checkpoints').selectAll().where('chain', '=', chain).where('seq', '=', 100).executeTakeFirstOrThrow();
      const { signCheckpoint } = await import('../../src/audit/checkpoint.ts');
      const forged = await signCheckpoint(other, { chain, seq: 100, hash: cp.hash, time: Number(cp.time), instance: cp.instance });
      // The header names the other key; the row claims the trusted one.
      await env.store.db.updateTable('audit_checkpoints').set({ jws: forged.jws }).where('chain', '=', chain).where('seq', '=', 100).execute();
      assert.deepEqual(first(await verify(chain)), { kind: 'checkpoint', seq: 100 });
      const [h, p] = cp.jws.split('.');
      await env.store.db.updateTable('audit_checkpoints').set({ jws: `${h}.${p}.${'A'.repeat(86)}` }).where('chain', '=', chain).where('seq', '=', 100).execute();
      assert.deepEqual(first(await verify(chain)), { kind: 'checkpoint', seq: 100 });
    });

    it('reports a valid checkpoint signature replayed at another seq, or in another chain', async () => {
      const chain = await chainOf(250);
      const cp = await env.store.db.selectFrom('audit_checkpoints').selectAll().where('chain', '=', chain).where('seq', '=', 100).executeTakeFirstOrThrow();
      await env.store.db.updateTable('audit_checkpoints').set({ jws: cp.jws }).where('chain', '=', chain).where('seq', '=', 200).execute();
      assert.deepEqual(first(await verify(chain)), { kind: 'checkpoint', seq: 200 });
      const other = await chainOf(250);
      await env.store.db.updateTable('audit_checkpoints').set({ jws: cp.jws, hash: cp.hash, time: cp.time, instance: cp.instance }).where('chain', '=', other).where('seq', '=', 100).execute();
      assert.deepEqual(first(await verify(other)), { kind: 'checkpoint', seq: 100 });
    });
  });
}
