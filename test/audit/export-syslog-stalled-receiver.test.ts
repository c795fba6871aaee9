/**
 * Audit export over TCP syslog (RFC 6587 octet counting) to a receiver that accepts the
 * connection and then stops reading: a real TCP server on loopback that never reads.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { exportAudit } from '../../src/audit/export/export.ts';
import { createSyslogSink } from '../../src/audit/export/syslog.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import type { Store } from '../../src/store/index.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

async function listen(server: ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('audit export to a TCP syslog receiver that stops reading', () => {
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const key = await signingKeyFromJwk(await generateSigningJwk());
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool'), signingKey: key, batchMaxEvents: 500 });
    for (let i = 0; i < 3000; i++) writer.append(accessDraft(i, { path: `/inbox/${i}/${'x'.repeat(1000)}` }));
    await writer.close();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  /** Accepts connections and never reads from them (a hung or overloaded collector). */
  async function stalledReceiver(): Promise<{ port: number; close(): void }> {
    const sockets: Socket[] = [];
    const server = createTcpServer((s) => { s.pause(); s.on('error', () => undefined); sockets.push(s); });
    const port = await listen(server);
    return { port, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
  }

  for (const [what, limit] of [['more records than the socket buffers hold', undefined], ['a few records (all buffered, then the close is never answered)', 5]] as const) {
    it(`a receiver that accepts and never reads, ${what}: the export fails with ERR_AUDIT_EXPORT_FAILED within its timeout instead of hanging`, async () => {
      const receiver = await stalledReceiver();
      try {
        const sink = await createSyslogSink({ url: `tcp://127.0.0.1:${receiver.port}`, timeoutMs: 300 });
        const started = performance.now();
        const outcome = await Promise.race([
          exportAudit(store, limit === undefined ? {} : { limit }, sink).then(() => 'exported', (err: { code?: string; detail?: string }) => `${err.code} ${err.detail}`),
          new Promise<string>((r) => setTimeout(() => r('still waiting after 5 s'), 5000).unref()),
        ]);
        assert.match(outcome, /^ERR_AUDIT_EXPORT_FAILED syslog tcp:\/\/127\.0\.0\.1:\d+: /);
        assert.ok(performance.now() - started < 4000, `took ${performance.now() - started} ms`);
      } finally {
        receiver.close();
      }
    });
  }

  it('a receiver that reads everything and closes when the exporter does: every record is exported', async () => {
    let bytes = 0;
    const server = createTcpServer((s) => s.on('data', (d: Buffer) => { bytes += d.length; }));
    const port = await listen(server);
    try {
      const sink = await createSyslogSink({ url: `tcp://127.0.0.1:${port}`, timeoutMs: 300 });
      assert.equal(await exportAudit(store, {}, sink), 3000);
      assert.ok(bytes > 3000 * 1000);
    } finally {
      server.close();
    }
  });
});
