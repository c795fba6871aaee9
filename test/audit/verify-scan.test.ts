/**
 * The fast read and hash path of `audit verify` (src/store/repos/audit-scan.ts,
 * src/audit/row-hash.ts): the hash of a scanned row is byte for byte `recordHash` of the
 * record, the scan returns exactly the stored records across page boundaries, and
 * tampering at a page boundary is still named; the PostgreSQL array reader returns what the
 * query builder does and keeps the store's guards. Runs on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomUUIDv7 } from 'node:crypto';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { GENESIS_HASH, recordHash } from '../../src/audit/hash.ts';
import { FAST_ROW_HASH, scanRowHash, scanRowToRecord } from '../../src/audit/row-hash.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { openStore } from '../../src/store/index.ts';
import { arrayQueryOf } from '../../src/store/postgres/array-query.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { scanAuditRecords, type AuditScanRow } from '../../src/store/repos/audit-scan.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

const HOSTILE = [
  '', '"quoted" \\ back/slash', '\u0001\u0008\u0009\u000a\u000c\u000d\u001f\u007f', 'line\u2028sep\u2029', 'é€😀 ünïcödé 日本語', '</script>',
  '__proto__', '1e400', 'a\r\nInjected: header', '{"nested":{"a":[1,2,{"b":null}],"c":"\\"esc\\""}}', 'x'.repeat(5000),
];

/** Records of one chain, linked and hashed by recordHash, with a hostile value in every text field by turns. */
function hostileChain(chain: string, n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const v = HOSTILE[i % HOSTILE.length]!;
    const odd = i % 2 === 1;
    const fields = {
      chain, prevHash, time: 1_790_000_000_000 + i, instance: odd ? v : 'gw-1', event: 'gateway.request', eventId: randomUUIDv7(),
      requestId: odd ? null : v, traceId: odd ? v : null, actor: odd ? null : v, actorKind: odd ? v : null, action: odd ? v : 'gateway.request',
      resource: odd ? null : v, outcome: 'success' as const, decisionId: odd ? v : null, reasons: odd ? JSON.stringify([v, { why: v }]) : null,
      clientAddress: odd ? null : '2001:db8::1', details: JSON.stringify({ value: v, nested: { list: [v, null, 1.5, true], empty: {} } }),
    };
    const hash = recordHash(fields);
    out.push({ ...fields, seq: i + 1, hash });
    prevHash = hash;
  }
  return out;
}

function toRow(r: AuditRecord): AuditScanRow {
  return [r.action, r.actor, r.actorKind, r.chain, r.clientAddress, r.decisionId, r.details, r.event, r.eventId, r.instance, r.outcome,
    r.prevHash, r.reasons, r.requestId, r.resource, r.time, r.traceId, r.seq, r.hash];
}

describe('audit verify row hash', () => {
  it('writes the same canonical text as hash.ts, so the fast path is the one in use', () => {
    assert.equal(FAST_ROW_HASH, true);
  });

  it('equals recordHash for unicode, control characters, nulls, nested JSON text and long values', () => {
    for (const r of hostileChain('main', HOSTILE.length * 2)) assert.equal(scanRowHash(toRow(r)), recordHash(r), JSON.stringify(r).slice(0, 80));
  });

  it('equals recordHash for a time outside the safe integers and values of the wrong type (a tampered SQLite column)', () => {
    const [r] = hostileChain('main', 1);
    for (const odd of [{ time: 2 ** 60 }, { time: 1.5 }, { time: -1 }, { details: 123 }, { actor: 0 }, { reasons: 1e21 }]) {
      const tampered = { ...r!, ...odd } as unknown as AuditRecord;
      assert.equal(scanRowHash(toRow(tampered)), recordHash(tampered), JSON.stringify(odd));
    }
  });

  it('refuses a lone surrogate exactly as recordHash does, so no such record can hash differently', () => {
    const [r] = hostileChain('main', 1);
    const lone = { ...r!, actor: 'x\ud800y' };
    assert.throws(() => recordHash(lone));
    assert.throws(() => scanRowHash(toRow(lone)));
  });

  it('maps a row back to the record it was read from', () => {
    const [r] = hostileChain('main', 1);
    assert.deepEqual(scanRowToRecord(toRow(r!)), r);
  });
});

for (const backend of await backends()) {
  describe(`audit verify scan on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let chains = 0;

    async function collect(chain: string, afterSeq: number, pageSize: number): Promise<AuditScanRow[][]> {
      const pages: AuditScanRow[][] = [];
      for await (const page of scanAuditRecords(env.store.db, env.store.dialect, chain, afterSeq, pageSize)) pages.push(page);
      return pages;
    }

    it('reads back every stored value unchanged, in seq order across page boundaries, and each row hashes to its stored hash', async () => {
      const chain = `h${++chains}`;
      const records = hostileChain(chain, 50);
      await createAuditRepo(env.store.db, env.store.dialect).insertRecords(records);
      const pages = await collect(chain, 0, 7);
      assert.deepEqual(pages.map((p) => p.length), [7, 7, 7, 7, 7, 7, 7, 1]);
      const rows = pages.flat();
      assert.deepEqual(rows.map(scanRowToRecord), records);
      for (const row of rows) assert.equal(scanRowHash(row), row[18]);
      assert.deepEqual((await collect(chain, 45, 100)).flat().map((r) => r[17]), [46, 47, 48, 49, 50]);
    });

    it('reads the same rows through the query builder as through the fast reader (PostgreSQL: array rows from the pool)', async () => {
      const chain = `h${++chains}`;
      await createAuditRepo(env.store.db, env.store.dialect).insertRecords(hostileChain(chain, 30));
      // A Kysely instance of its own (same connection/pool) has no fast reader registered: the query-builder path.
      const viaBuilder: AuditScanRow[][] = [];
      for await (const page of scanAuditRecords(env.store.db.withoutPlugins(), env.store.dialect, chain, 0, 8)) viaBuilder.push(page);
      assert.equal(arrayQueryOf(env.store.db) !== undefined, backend.name === 'postgres');
      assert.deepEqual(await collect(chain, 0, 8), viaBuilder);
      assert.equal(typeof viaBuilder[0]![0]![15], 'number');
      assert.equal(typeof viaBuilder[0]![0]![17], 'number');
    });

    if (backend.name === 'postgres') {
      it('refuses to scan a closed store with ERR_STORE_UNAVAILABLE (fail closed, nothing read from the pool)', async () => {
        const chain = await chainOf(10);
        const closed = await env.db.open();
        await closed.close();
        await assert.rejects(async () => {
          for await (const page of scanAuditRecords(closed.db, closed.dialect, chain, 0, 5)) assert.fail(`read ${page.length} rows`);
        }, { code: 'ERR_STORE_UNAVAILABLE' });
      });
    }

    it('refuses a scan of the root store from inside store.transaction() with ERR_INTERNAL (it would read outside the transaction)', async () => {
      const chain = await chainOf(10);
      await assert.rejects(env.store.transaction(async () => {
        for await (const page of scanAuditRecords(env.store.db, env.store.dialect, chain, 0, 5)) assert.fail(`read ${page.length} rows`);
      }), { code: 'ERR_INTERNAL' });
    });

    it('verifies a chain of hostile values end to end (no false alarm from the fast hash)', async () => {
      const chain = `h${++chains}`;
      await createAuditRepo(env.store.db, env.store.dialect).insertRecords(hostileChain(chain, 40));
      await env.store.db.insertInto('audit_chain_heads').values({ chain, seq: 40, hash: (await collect(chain, 39, 1))[0]![0]![18], updated_at: Date.now() }).execute();
      const report = await verifyAudit(env.store, { trustedKeys: [], chain, batchSize: 16 });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.records, 40);
    });

    it('stops cleanly when the reader breaks off with a page still being fetched', async () => {
      const chain = await chainOf(60);
      for await (const page of scanAuditRecords(env.store.db, env.store.dialect, chain, 0, 10)) {
        assert.equal(page.length, 10);
        break;
      }
      // The store is still usable (nothing left locked or checked out).
      assert.equal((await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, batchSize: 10 })).ok, true);
    });

    /** A fresh chain written by the writer, checkpoints every 50 records. */
    async function chainOf(n: number): Promise<string> {
      const chain = `c${++chains}`;
      const writer = AuditWriter.open({ store: env.store, chain, instance: 'test-1', spoolDir: join(env.db.dir, `spool-${chain}`), signingKey: env.key, checkpointEveryRecords: 50, batchMaxEvents: 50 });
      for (let i = 1; i <= n; i++) {
        writer.append(accessDraft(i));
        if (i % 50 === 0) await writer.flush();
      }
      await writer.close();
      return chain;
    }

    const verify = async (chain: string) => {
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, batchSize: 32 });
      const p = report.problems[0];
      return p ? { kind: p.kind, seq: p.seq } : undefined;
    };

    it('reports a record modified at the first row of a page as modified, at its seq', async () => {
      const chain = await chainOf(100);
      await env.store.db.updateTable('audit_records').set({ actor: 'mallory' }).where('chain', '=', chain).where('seq', '=', 33).execute();
      assert.deepEqual(await verify(chain), { kind: 'modified', seq: 33 });
    });

    it('reports a record deleted at the end of a page as deleted, at its seq', async () => {
      const chain = await chainOf(100);
      await env.store.db.deleteFrom('audit_records').where('chain', '=', chain).where('seq', '=', 64).execute();
      assert.deepEqual(await verify(chain), { kind: 'deleted', seq: 64 });
    });

    it('reports two records swapped across a page boundary as reordered, at the first', async () => {
      const chain = await chainOf(100);
      await env.store.transaction(async (trx) => {
        const swap = (from: number, to: number) => trx.updateTable('audit_records').set({ seq: to }).where('chain', '=', chain).where('seq', '=', from).execute();
        await swap(64, -1);
        await swap(65, 64);
        await swap(-1, 65);
      });
      assert.deepEqual(await verify(chain), { kind: 'reordered', seq: 64 });
    });

    it('reports a record whose hash was replaced to match its modified fields as modified at the next signed checkpoint', async () => {
      const chain = await chainOf(100);
      const [r] = await createAuditRepo(env.store.db, env.store.dialect).page(chain, 49, 1);
      const forged = { ...r!, actor: 'mallory' };
      // The record itself is consistent again; the link of record 51 and the checkpoint at 50 are not.
      await env.store.db.updateTable('audit_records').set({ actor: forged.actor, hash: recordHash(forged) }).where('chain', '=', chain).where('seq', '=', 50).execute();
      assert.deepEqual(await verify(chain), { kind: 'modified', seq: 50 });
    });

    if (backend.name === 'sqlite') {
      it('reports a text field overwritten with a number (SQLite keeps the type) as modified, without failing', async () => {
        const chain = await chainOf(50);
        await env.store.db.updateTable('audit_records').set({ details: 42 as unknown as string }).where('chain', '=', chain).where('seq', '=', 20).execute();
        assert.deepEqual(await verify(chain), { kind: 'modified', seq: 20 });
      });

      it('verifies an in-memory SQLite store through the query builder (no file to share)', async () => {
        const memory = await openStore('sqlite::memory:');
        try {
          await memory.migrate();
          const chain = 'mem';
          const records = hostileChain(chain, 30);
          await createAuditRepo(memory.db, memory.dialect).insertRecords(records);
          // A chain has a head (without one, queries by actor read it from the actor index alone, and verify checks that index).
          await memory.db.insertInto('audit_chain_heads').values({ chain, seq: 30, hash: records[29]!.hash, updated_at: Date.now() }).execute();
          const report = await verifyAudit(memory, { trustedKeys: [], chain, batchSize: 8 });
          assert.equal(report.ok, true, JSON.stringify(report.problems));
          assert.equal(report.records, 30);
          await memory.db.updateTable('audit_records').set({ details: '{}' }).where('seq', '=', 9).execute();
          assert.deepEqual((await verifyAudit(memory, { trustedKeys: [], chain, batchSize: 8 })).problems.map((p) => [p.kind, p.seq]), [['modified', 9]]);
        } finally {
          await memory.close();
        }
      });
    }
  });
}
