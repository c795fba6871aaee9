/**
 * Audit export over UDP syslog (RFC 5426: one record a datagram) of a record longer than a
 * datagram can carry: a real UDP receiver on loopback, records from the real writer on SQLite.
 * The export failed with EMSGSIZE and stopped there; the record is now sent truncated as
 * RFC 5424 §6.1 says (the MSG cut at a character boundary), marked, counted and logged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { auditExportCommand } from '../../src/audit/commands/export.ts';
import { exportAudit } from '../../src/audit/export/export.ts';
import { createSyslogSink } from '../../src/audit/export/syslog.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import type { Store } from '../../src/store/index.ts';
import { captureLogger } from '../support/gateway.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

/** A UDP syslog receiver on loopback that keeps every datagram as bytes. */
async function receiver(): Promise<{ port: number; datagrams: Buffer[]; wait(n: number): Promise<void>; close(): void }> {
  const socket: Socket = createSocket('udp4');
  const datagrams: Buffer[] = [];
  socket.on('message', (m) => datagrams.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return {
    port: socket.address().port,
    datagrams,
    async wait(n) { for (let i = 0; i < 100 && datagrams.length < n; i++) await new Promise((r) => setTimeout(r, 20)); },
    close: () => socket.close(),
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const msgOf = (d: Buffer): Buffer => d.subarray(d.indexOf(Buffer.from('\uFEFF')) + 3);

describe('audit export of a record longer than a UDP syslog datagram', () => {
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const key = await signingKeyFromJwk(await generateSigningJwk());
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool'), signingKey: key });
    writer.append(accessDraft(1));
    // 100,000 characters of two-byte UTF-8: the record's MSG alone is about 200 kB.
    writer.append(accessDraft(2, { path: `/inbox/${'é'.repeat(100_000)}` }));
    writer.append(accessDraft(3));
    await writer.close();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('sends the oversized record truncated to one datagram (marked truncated="<bytes>", cut at a character boundary), exports the records after it, and counts and logs the truncation instead of failing with EMSGSIZE', async () => {
    const udp = await receiver();
    const { logger, capture } = captureLogger();
    try {
      const config = auditSchema.parse({ export: { syslog: { url: `udp://127.0.0.1:${udp.port}` } } });
      const r = await auditExportCommand(store, config, { to: 'syslog' }, process.stdout, logger);
      assert.deepEqual([r.exported, r.truncated], [3, 1]);
      await udp.wait(3);
      assert.equal(udp.datagrams.length, 3);
      const [first, big, last] = udp.datagrams.map((d) => d);
      assert.ok(big!.length <= 65_507, `${big!.length} bytes`);
      const text = utf8.decode(big!);
      const marker = /\[gatehouse@32473 chain="main" seq="2" outcome="success" hash="[0-9a-f]{64}" requestId="req-2" truncated="(\d+)"\] \uFEFF\{/.exec(text);
      assert.ok(marker, text.slice(0, 300));
      assert.ok(Number(marker[1]) > 200_000, 'the marker gives the length of the whole MSG');
      assert.ok(msgOf(big!).length < Number(marker[1]));
      // The records around it went whole and unmarked.
      for (const d of [first!, last!]) {
        assert.doesNotMatch(d.toString('utf8'), /truncated=/);
        JSON.parse(msgOf(d).toString('utf8'));
      }
      assert.ok(capture.lines.some((l) => l.level === 40 && l.seq === 2 && /truncated/.test(String(l.msg))), capture.text());
      assert.ok(capture.lines.some((l) => l.truncated === 1), capture.text());
    } finally {
      udp.close();
    }
  });

  it('cuts the message at a UTF-8 character boundary whatever the datagram limit (odd limits falling inside a two-byte character)', async () => {
    for (const maxDatagramBytes of [1001, 1002, 2048, 2049]) {
      const udp = await receiver();
      try {
        const sink = await createSyslogSink({ url: `udp://127.0.0.1:${udp.port}`, maxDatagramBytes });
        assert.equal(await exportAudit(store, { requestId: 'req-2' }, sink), 1);
        await udp.wait(1);
        const d = udp.datagrams[0]!;
        assert.ok(d.length <= maxDatagramBytes && d.length >= maxDatagramBytes - 1, `${d.length} of ${maxDatagramBytes}`);
        assert.doesNotThrow(() => utf8.decode(d), 'valid UTF-8');
        assert.equal(sink.truncated(), 1);
      } finally {
        udp.close();
      }
    }
  });
});
