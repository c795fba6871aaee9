/**
 * Rows edited directly in the database are what `audit verify` reports, and then what an
 * operator queries and exports to investigate: a crafted value must not stop the query or the
 * export at that row. Real writer, real receivers on loopback, SQLite and PostgreSQL.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AuditWriter } from '../../src/audit/writer.ts';
import { auditQueryCommand } from '../../src/audit/commands/query.ts';
import { exportAudit } from '../../src/audit/export/export.ts';
import { createOtlpSink } from '../../src/audit/export/otlp.ts';
import { createSyslogSink } from '../../src/audit/export/syslog.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

for (const backend of await backends()) {
  describe(`audit query and export of crafted rows on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });

    before(async () => {
      const writer = AuditWriter.open({ store: env.store, instance: 'gw-1', spoolDir: join(env.db.dir, 'spool'), signingKey: env.key });
      for (let i = 1; i <= 3; i++) writer.append(accessDraft(i));
      await writer.close();
      // Beyond what a Date can hold (±8.64e15 ms), within what the column and a JS number can.
      await env.store.db.updateTable('audit_records').set({ time: 9e15 }).where('seq', '=', 2).execute();
    });

    it('a record whose time was set beyond the range of a date: verify reports it modified, and audit query prints every record, that one with an invalid time, instead of stopping with a RangeError', async () => {
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk] });
      assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', 2]]);
      const chunks: string[] = [];
      const n = await auditQueryCommand(env.store, {}, new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString()); cb(); } }));
      assert.equal(n, 3);
      const times = chunks.join('').trim().split('\n').map((l) => (JSON.parse(l) as { time: string }).time);
      assert.equal(times[1], 'invalid time 9000000000000000');
      assert.match(times[2]!, /^\d{4}-\d\d-\d\dT/);
    });

    it('the same record exports over syslog (NILVALUE timestamp) and OTLP (timeUnixNano 0) with the records after it', async () => {
      const udp = createSocket('udp4');
      const got: string[] = [];
      udp.on('message', (m) => got.push(m.toString('utf8')));
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
      const times: string[] = [];
      const server = createHttpServer((req, res) => {
        let text = '';
        req.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => {
          const body = JSON.parse(text) as { resourceLogs: { scopeLogs: { logRecords: { timeUnixNano: string }[] }[] }[] };
          times.push(...body.resourceLogs[0]!.scopeLogs[0]!.logRecords.map((l) => l.timeUnixNano));
          res.writeHead(200).end('{}');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        assert.equal(await exportAudit(env.store, {}, await createSyslogSink({ url: `udp://127.0.0.1:${udp.address().port}` })), 3);
        assert.equal(await exportAudit(env.store, {}, createOtlpSink({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs` })), 3);
        for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(got.length, 3);
        assert.match(got[1]!, /^<\d+>1 - /);
        assert.equal(times[1], '0');
        assert.notEqual(times[2], '0');
      } finally {
        udp.close();
        server.close();
      }
    });
  });
}
