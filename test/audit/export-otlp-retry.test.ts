/**
 * Audit export to an OTLP/HTTP collector that is briefly unavailable or throttles: a real HTTP
 * server on loopback plays the collector. OTLP/HTTP asks clients to retry 429, 502, 503 and 504
 * with backoff (honouring Retry-After) and never to retry other answers; the export failed at
 * the first 503.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { exportAudit } from '../../src/audit/export/export.ts';
import { createOtlpSink } from '../../src/audit/export/otlp.ts';
import type { Store } from '../../src/store/index.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

/** A collector answering each request with the next of `answers` (then 200), counting the records it took. */
async function collector(answers: [number, Record<string, string>?][]): Promise<{ url: string; requests: () => number; accepted: () => number; close(): void }> {
  let requests = 0;
  let accepted = 0;
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [status, headers] = answers[requests++] ?? [200];
      if (status === 200) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceLogs: { scopeLogs: { logRecords: unknown[] }[] }[] };
        accepted += body.resourceLogs[0]!.scopeLogs[0]!.logRecords.length;
      }
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`, requests: () => requests, accepted: () => accepted, close: () => server.close() };
}

describe('audit export to an OTLP collector that is briefly unavailable', () => {
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool') });
    for (let i = 0; i < 25; i++) writer.append(accessDraft(i));
    await writer.close();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('a collector that answers 503, then 429 with Retry-After, then 502 and 504 before it takes the batch: every record is exported after backing off', async () => {
    const c = await collector([[503], [429, { 'retry-after': '1' }], [502], [504]]);
    try {
      const started = performance.now();
      assert.equal(await exportAudit(store, {}, createOtlpSink({ url: c.url, backoffMs: 20 })), 25);
      assert.deepEqual([c.requests(), c.accepted()], [5, 25]);
      assert.ok(performance.now() - started >= 950, 'the Retry-After of 1 s was honoured');
    } finally {
      c.close();
    }
  });

  it('a collector that refuses the batch as bad (400) is not asked again: ERR_AUDIT_EXPORT_FAILED after one request', async () => {
    const c = await collector([[400]]);
    try {
      await assert.rejects(exportAudit(store, {}, createOtlpSink({ url: c.url, backoffMs: 20 })), { code: 'ERR_AUDIT_EXPORT_FAILED', detail: 'OTLP endpoint answered 400' });
      assert.equal(c.requests(), 1);
    } finally {
      c.close();
    }
  });

  it('a collector that stays unavailable: ERR_AUDIT_EXPORT_FAILED after the configured attempts, not an endless wait', async () => {
    const c = await collector(Array.from({ length: 10 }, () => [503] as [number]));
    try {
      await assert.rejects(exportAudit(store, {}, createOtlpSink({ url: c.url, backoffMs: 10, attempts: 3 })), { code: 'ERR_AUDIT_EXPORT_FAILED', detail: 'OTLP endpoint answered 503 (3 attempts)' });
      assert.equal(c.requests(), 3);
    } finally {
      c.close();
    }
  });

  it('a collector that is down for a moment (connection refused) and then listens: every record is exported', async () => {
    // A port that was just free: nothing listens on it until the collector starts there.
    const probe = await collector([]);
    const url = probe.url;
    probe.close();
    const port = Number(new URL(url).port);
    let requests = 0;
    const server = createHttpServer((req, res) => { requests++; req.resume(); req.on('end', () => res.writeHead(200).end('{}')); });
    setTimeout(() => server.listen(port, '127.0.0.1'), 150);
    try {
      assert.equal(await exportAudit(store, {}, createOtlpSink({ url, backoffMs: 100, attempts: 6 })), 25);
      assert.equal(requests, 1);
    } finally {
      server.close();
    }
  });
});
