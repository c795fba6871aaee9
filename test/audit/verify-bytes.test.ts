/**
 * The byte path of `audit verify` on PostgreSQL (binary COPY pages, src/audit/raw-row-hash.ts,
 * src/audit/verify-bytes.ts): the canonical text written from column bytes hashes exactly as
 * `recordHash` for hostile values, so stored hostile records are vouched for without falling
 * back; a record it cannot vouch for — modified, or rewritten so that a naive writer would
 * produce the original text — stops the pass at its page and is named as before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomUUIDv7 } from 'node:crypto';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { verifyBytes, type ChainCursor } from '../../src/audit/verify-bytes.ts';
import { GENESIS_HASH, recordHash } from '../../src/audit/hash.ts';
import { BYTE_ROW_HASH, bytePageOf, byteRowHash } from '../../src/audit/raw-row-hash.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { BinaryCopyFormatError, binaryRowsBuffer, parseBinaryCopy } from '../../src/store/postgres/binary-copy.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { scanAuditRecordBytes, type AuditScanRow } from '../../src/store/repos/audit-scan.ts';
import { postgresBackend } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

/** What PostgreSQL text can hold (no NUL) and JSON writers get wrong. */
const HOSTILE = [
  '', '"quoted" \\ back/slash \\"', '\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001b\u001f\u007f', 'line\u2028sep\u2029', 'é€😀 ünïcödé 日本語 \u0080\u07ff\u0800\uffff',
  '\u{10ffff}', '</script>', '__proto__', '1e400', 'a\r\nInjected: header', '{"nested":{"a":[1,2,{"b":null}],"c":"\\"esc\\""}}', '\\u0022', 'x'.repeat(70_000),
];

function hostileChain(chain: string, n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const v = HOSTILE[i % HOSTILE.length]!;
    const odd = i % 2 === 1;
    const fields = {
      chain, prevHash, time: odd ? 1_790_000_000_000 + i : -i, instance: odd ? v : 'gw-1', event: 'gateway.request', eventId: randomUUIDv7(),
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

const toRow = (r: AuditRecord): AuditScanRow => [r.action, r.actor, r.actorKind, r.chain, r.clientAddress, r.decisionId, r.details, r.event, r.eventId, r.instance,
  r.outcome, r.prevHash, r.reasons, r.requestId, r.resource, r.time, r.traceId, r.seq, r.hash];

describe('audit verify byte row hash', () => {
  it('writes the same canonical text as hash.ts, so the byte path is the one in use', () => {
    assert.equal(BYTE_ROW_HASH, true);
  });

  it('equals recordHash for control characters, quotes, backslashes, U+2028, emoji, nulls, negative times and a 70 kB value', () => {
    const records = hostileChain('main', HOSTILE.length * 2);
    const page = bytePageOf(records.map(toRow));
    records.forEach((r, i) => assert.equal(byteRowHash(page, i), r.hash, JSON.stringify(r).slice(0, 80)));
  });

  it('equals recordHash for every single character below U+0100 and NUL', () => {
    const [r] = hostileChain('main', 1);
    for (let c = 0; c < 0x100; c++) {
      const record = { ...r!, actor: String.fromCharCode(c), details: `a${String.fromCharCode(c)}b` };
      assert.equal(byteRowHash(bytePageOf([toRow(record)]), 0), recordHash(record), `U+${c.toString(16)}`);
    }
  });

  it('gives a backslash-escaped rewrite of a value a different hash (x\\"y stored where x"y was hashed)', () => {
    const [r] = hostileChain('main', 1);
    const original = { ...r!, action: 'x"y' };
    const rewritten = { ...original, action: 'x\\"y' };
    assert.notEqual(byteRowHash(bytePageOf([toRow(rewritten)]), 0), recordHash(original));
  });

  it('leaves a time outside the safe integers or not 8 bytes to the other reader (undefined)', () => {
    const [r] = hostileChain('main', 1);
    assert.equal(byteRowHash(bytePageOf([toRow({ ...r!, time: 2 ** 53 })]), 0), undefined);
    const page = bytePageOf([toRow(r!)]);
    page.spans[15 * 2 + 1] = 4;
    assert.equal(byteRowHash(page, 0), undefined);
  });

  it('never matches for a value that is not valid UTF-8 (the array reader would see U+FFFD)', () => {
    const [r] = hostileChain('main', 1);
    const replaced = { ...r!, actor: 'a\ufffdb' };
    const page = bytePageOf([toRow(replaced)]);
    const at = page.spans[1 * 2]!;
    assert.equal(page.data[at + 1], 0xef);
    const bytes = Buffer.concat([page.data.subarray(0, at + 1), Buffer.from([0xc3]), page.data.subarray(at + 4)]);
    const spans = page.spans.slice();
    for (let k = 0; k < spans.length; k += 2) if (spans[k]! > at) spans[k] = spans[k]! - 2;
    spans[1 * 2 + 1] = 3;
    assert.notEqual(byteRowHash({ ...page, data: bytes, spans }, 0), recordHash(replaced));
  });
});

describe('binary COPY stream parsing', () => {
  const signature = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
  const int16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
  const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  const parse = (bytes: Buffer, fields: number) => parseBinaryCopy({ data: bytes, spans: new Int32Array(2) }, bytes.length, fields);

  it('reads rows after a header extension, with nulls', () => {
    const stream = Buffer.concat([signature, int32(0), int32(3), Buffer.from('ext'), int16(2), int32(2), Buffer.from('hi'), int32(-1), int16(2), int32(0), int32(1), Buffer.from('x'), int16(-1)]);
    const rows = parse(stream, 2);
    assert.equal(rows.length, 2);
    assert.deepEqual([...rows.spans.subarray(0, 8)], [28, 2, 34, -1, 40, 0, 44, 1]);
    assert.equal(rows.data.toString('latin1', 28, 30), 'hi');
  });

  it('refuses a stream without the signature, without its trailer, cut short, or with another field count', () => {
    const row = Buffer.concat([int16(1), int32(2), Buffer.from('hi')]);
    const header = Buffer.concat([signature, int32(0), int32(0)]);
    for (const [what, bytes] of [
      ['no signature', Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\x01', 'latin1'), int32(0), int32(0), int16(-1)])],
      ['no trailer', Buffer.concat([header, row])],
      ['cut short', Buffer.concat([header, row.subarray(0, 7)])],
      ['field count', Buffer.concat([header, row, int16(-1)])],
    ] as const) {
      assert.throws(() => parse(bytes, what === 'field count' ? 2 : 1), BinaryCopyFormatError, what);
    }
  });
});

const backend = await postgresBackend();
describe('audit verify byte path on postgres', { skip: backend.skip }, () => {
  const env = useAuditBackend(backend, { key: true });
  let chains = 0;

  const start = (): ChainCursor => ({ expected: 1, prevHash: GENESIS_HASH, prevPrev: undefined, cpIndex: 0, records: 0 });

  async function storeHostile(chain: string, n: number): Promise<AuditRecord[]> {
    const records = hostileChain(chain, n);
    await createAuditRepo(env.store.db, env.store.dialect).insertRecords(records);
    await env.store.db.insertInto('audit_chain_heads').values({ chain, seq: n, hash: records.at(-1)!.hash, updated_at: Date.now() }).execute();
    return records;
  }

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

  it('reads stored hostile records back as the bytes they were hashed from, each hashing to its stored hash', async () => {
    const chain = `h${++chains}`;
    const records = await storeHostile(chain, 40);
    const hashes: string[] = [];
    for await (const page of scanAuditRecordBytes(env.store.db, chain, 0, 7)!) {
      for (let i = 0; i < page.length; i++) {
        assert.equal(page.seqs[i], hashes.length + 1);
        hashes.push(byteRowHash(page, i)!);
      }
    }
    assert.deepEqual(hashes, records.map((r) => r.hash));
  });

  it('vouches for every stored hostile record without falling back, and verify reports the chain intact', async () => {
    const chain = `h${++chains}`;
    await storeHostile(chain, 40);
    const cursor = await verifyBytes(env.store, chain, start(), [], 16);
    assert.equal(cursor.records, 40);
    assert.equal(cursor.expected, 41);
    const report = await verifyAudit(env.store, { trustedKeys: [], chain, batchSize: 16 });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.records, 40);
  });

  it('reads only its own chain when the chain name holds quotes and backslashes (no SQL injection through the COPY literal)', async () => {
    const other = `h${++chains}`;
    await storeHostile(other, 5);
    const chain = `it's a \\' or chain = '${other}' -- \\`;
    await storeHostile(chain, 12);
    const cursor = await verifyBytes(env.store, chain, start(), [], 5);
    assert.equal(cursor.records, 12);
    const report = await verifyAudit(env.store, { trustedKeys: [], chain, batchSize: 5 });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.records, 12);
  });

  it('stops at the start of the page of a modified record, which verify then names as modified', async () => {
    const chain = await chainOf(100);
    await env.store.db.updateTable('audit_records').set({ actor: 'mallory' }).where('chain', '=', chain).where('seq', '=', 40).execute();
    const cursor = await verifyBytes(env.store, chain, start(), [], 32);
    assert.deepEqual([cursor.expected, cursor.records], [33, 32]);
    const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, batchSize: 32 });
    assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', 40]]);
  });

  it('reports a record modified at the last row of a page as modified at its seq, not as a broken link on the next page', async () => {
    const chain = await chainOf(100);
    await env.store.db.updateTable('audit_records').set({ details: '{}' }).where('chain', '=', chain).where('seq', '=', 32).execute();
    const cursor = await verifyBytes(env.store, chain, start(), [], 32);
    assert.deepEqual([cursor.expected, cursor.records], [1, 0]);
    const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, batchSize: 32 });
    assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', 32]]);
  });

  it('reports a hostile record whose quotes were rewritten as backslash-quote as modified (the text would read the same unescaped)', async () => {
    const chain = `h${++chains}`;
    const records = await storeHostile(chain, 30);
    const target = records.find((r) => r.seq > 3 && r.details.includes('"'))!;
    await env.store.db.updateTable('audit_records').set({ details: target.details.replaceAll('"', '\\"') }).where('chain', '=', chain).where('seq', '=', target.seq).execute();
    const report = await verifyAudit(env.store, { trustedKeys: [], chain, batchSize: 8 });
    assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', target.seq]]);
  });

  it('reports a record modified to hold U+2028 and an emoji as modified', async () => {
    const chain = `h${++chains}`;
    await storeHostile(chain, 30);
    await env.store.db.updateTable('audit_records').set({ resource: 'route\u2028😀' }).where('chain', '=', chain).where('seq', '=', 17).execute();
    const report = await verifyAudit(env.store, { trustedKeys: [], chain, batchSize: 8 });
    assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', 17]]);
  });

  it('reports a hash replaced to match modified fields as modified at the next signed checkpoint, through the byte path', async () => {
    const chain = await chainOf(100);
    const [r] = await createAuditRepo(env.store.db, env.store.dialect).page(chain, 49, 1);
    const forged = { ...r!, actor: 'mallory' };
    await env.store.db.updateTable('audit_records').set({ actor: forged.actor, hash: recordHash(forged) }).where('chain', '=', chain).where('seq', '=', 50).execute();
    const checkpoints = await createAuditRepo(env.store.db, env.store.dialect).checkpoints(chain);
    const cursor = await verifyBytes(env.store, chain, start(), checkpoints, 32);
    assert.deepEqual([cursor.expected, cursor.records], [33, 32]);
    const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, batchSize: 32 });
    assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', 50]]);
  });

  it('fails a time moved outside the safe integers with ERR_INTERNAL, as the array reader alone does', async () => {
    const chain = await chainOf(20);
    await env.store.db.updateTable('audit_records').set({ time: 2 ** 60 }).where('chain', '=', chain).where('seq', '=', 7).execute();
    const cursor = await verifyBytes(env.store, chain, start(), [], 10);
    assert.deepEqual([cursor.expected, cursor.records], [1, 0]);
    await assert.rejects(verifyAudit(env.store, { trustedKeys: [env.key.publicJwk], chain, batchSize: 10 }), { code: 'ERR_INTERNAL' });
  });

  it('refuses a byte scan of a closed store with ERR_STORE_UNAVAILABLE (fail closed, nothing read from the pool)', async () => {
    const chain = await chainOf(10);
    const closed = await env.db.open();
    await closed.close();
    await assert.rejects(async () => {
      for await (const page of scanAuditRecordBytes(closed.db, chain, 0, 5)!) assert.fail(`read ${page.length} rows`);
    }, { code: 'ERR_STORE_UNAVAILABLE' });
    await assert.rejects(verifyBytes(closed, chain, start(), [], 5), { code: 'ERR_STORE_UNAVAILABLE' });
  });

  it('refuses a byte scan of the root store inside store.transaction() with ERR_INTERNAL', async () => {
    const chain = await chainOf(10);
    await assert.rejects(env.store.transaction(async () => {
      for await (const page of scanAuditRecordBytes(env.store.db, chain, 0, 5)!) assert.fail(`read ${page.length} rows`);
    }), { code: 'ERR_INTERNAL' });
  });

  it('reuses page memory: a second scan page lands in the other buffer, the third in the first', async () => {
    const chain = await chainOf(30);
    const buffers: ArrayBufferLike[] = [];
    for await (const page of scanAuditRecordBytes(env.store.db, chain, 0, 10)!) buffers.push(page.data.buffer);
    assert.equal(buffers.length, 3);
    assert.notEqual(buffers[0], buffers[1]);
    assert.equal(buffers[0], buffers[2]);
  });

  it('leaves a walk that starts from a non-ASCII hash to the other reader (latin1 and UTF-8 would compare it differently)', async () => {
    const chain = `h${++chains}`;
    await storeHostile(chain, 5);
    const from = { ...start(), prevHash: 'é'.repeat(64) };
    assert.equal(await verifyBytes(env.store, chain, from, [], 5), from);
  });

  it('has no byte reader for a chain name PostgreSQL text cannot hold', () => {
    assert.equal(scanAuditRecordBytes(env.store.db, 'a\u0000b', 0, 5), undefined);
    assert.equal(binaryRowsBuffer(10, 1, 2).spans.length, 4);
  });
});
