/**
 * Audit export to an OTLP/HTTP collector that accepts a request but rejects some of its log
 * records (OTLP partial success: 200 with `partialSuccess.rejectedLogRecords`). A real HTTP
 * server on loopback plays the collector.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { auditExportCommand } from '../../src/audit/commands/export.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import type { Store } from '../../src/store/index.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

const RECORDS = 40;

async function listen(server: ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('audit export to an OTLP collector that rejects part of a request', () => {
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const key = await signingKeyFromJwk(await generateSigningJwk());
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool'), signingKey: key, batchMaxEvents: 100 });
    for (let i = 0; i < RECORDS; i++) writer.append(accessDraft(i));
    await writer.close();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('an OTLP collector that answers 200 with partialSuccess.rejectedLogRecords: the export fails with ERR_AUDIT_EXPORT_FAILED naming the rejected count instead of reporting every record exported', async () => {
    // OTLP/HTTP: a partially accepted request is answered 200 with partial_success (and must
    // not be retried); the rejected records never reach the log store.
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ partialSuccess: { rejectedLogRecords: '3', errorMessage: 'log record too old\u001b[2J' } })));
    });
    const port = await listen(server);
    try {
      const config = auditSchema.parse({ export: { otlp: { url: `http://127.0.0.1:${port}/v1/logs` } } });
      await assert.rejects(auditExportCommand(store, config, { to: 'otlp' }, process.stdout), (err: { code?: string; detail?: string }) => {
        assert.equal(err.code, 'ERR_AUDIT_EXPORT_FAILED');
        assert.match(err.detail ?? '', /rejected 3 of \d+ log records/);
        assert.match(err.detail ?? '', /log record too old/);
        // The collector's text is shown to the operator: no terminal control characters.
        assert.doesNotMatch(err.detail ?? '', /\u001b/);
        return true;
      });
    } finally {
      server.close();
    }
  });

  it('an OTLP collector that answers 200 with an empty partialSuccess (or none): every record counts as exported', async () => {
    let requests = 0;
    const server = createHttpServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(requests === 1 ? '{"partialSuccess":{}}' : ''));
    });
    const port = await listen(server);
    try {
      const config = auditSchema.parse({ export: { otlp: { url: `http://127.0.0.1:${port}/v1/logs` } } });
      const r = await auditExportCommand(store, config, { to: 'otlp', limit: 10 }, process.stdout);
      assert.equal(r.exported, 10);
    } finally {
      server.close();
    }
  });
});
