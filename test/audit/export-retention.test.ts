/**
 * Query, export to real local receivers (RFC 5424 syslog over UDP and TCP, OTLP/HTTP
 * JSON), retention that keeps verification working, and sampling with recorded counts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { applyRetention } from '../../src/audit/retention.ts';
import { queryAudit } from '../../src/audit/query.ts';
import { AccessSampler } from '../../src/audit/sampler.ts';
import { auditExportCommand } from '../../src/audit/commands/export.ts';
import { auditQueryCommand } from '../../src/audit/commands/query.ts';
import { generateSigningJwk, signingKeyFromJwk, type AuditSigningKey } from '../../src/audit/signing-key.ts';
import type { Store } from '../../src/store/index.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { Writable } from 'node:stream';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

describe('audit query, export, retention and sampling', () => {
  let db: TestDatabase;
  let store: Store;
  let key: AuditSigningKey;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    key = await signingKeyFromJwk(await generateSigningJwk());
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool'), signingKey: key, checkpointEveryRecords: 10, batchMaxEvents: 10 });
    for (let i = 0; i < 30; i++) {
      writer.append(accessDraft(i, i === 7 ? { status: 403, subject: 'mallory' } : {}));
      if (i % 10 === 9) await writer.flush();
    }
    await writer.close();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('queries by actor, outcome and request id as JSON lines', async () => {
    const chunks: string[] = [];
    const out = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString()); cb(); } });
    const n = await auditQueryCommand(store, { actor: 'mallory', outcome: 'denied' }, out);
    assert.equal(n, 1);
    const record = JSON.parse(chunks.join('').trim()) as { requestId: string; actor: { subject: string }; details: { status: number } };
    assert.deepEqual([record.requestId, record.actor.subject, record.details.status], ['req-7', 'mallory', 403]);
    const byRequest = [];
    for await (const r of queryAudit(store, { requestId: 'req-12' })) byRequest.push(r.seq);
    assert.deepEqual(byRequest, [13]);
  });

  it('exports RFC 5424 messages to a UDP syslog receiver, one datagram per record', async () => {
    const socket = createSocket('udp4');
    const got: string[] = [];
    socket.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const config = auditSchema.parse({ export: { syslog: { url: `udp://127.0.0.1:${socket.address().port}` } } });
    const r = await auditExportCommand(store, config, { to: 'syslog', limit: 5 }, process.stdout);
    assert.equal(r.exported, 5);
    for (let i = 0; i < 50 && got.length < 5; i++) await new Promise((res) => setTimeout(res, 20));
    socket.close();
    assert.equal(got.length, 5);
    // <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP BOM MSG
    assert.match(got[0]!, /^<110>1 \d{4}-\d\d-\d\dT[\d:.]+Z test-1 gatehouse - gateway\.request \[gatehouse@32473 chain="main" seq="1" outcome="success" hash="[0-9a-f]{64}" requestId="req-0"\] \uFEFF\{/);
    assert.equal((JSON.parse(got[0]!.slice(got[0]!.indexOf('\uFEFF') + 1)) as { seq: number }).seq, 1);
  });

  it('exports octet-counted RFC 5424 frames to a TCP syslog receiver', async () => {
    let data = '';
    const server = createTcpServer((s) => s.on('data', (d: Buffer) => { data += d.toString('utf8'); }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const config = auditSchema.parse({ export: { syslog: { url: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`, facility: 4 } } });
    const r = await auditExportCommand(store, config, { to: 'syslog' }, process.stdout);
    await new Promise((res) => setTimeout(res, 100));
    server.close();
    const frames: string[] = [];
    let rest = Buffer.from(data);
    while (rest.length) {
      const sp = rest.indexOf(0x20);
      const len = Number(rest.subarray(0, sp).toString());
      frames.push(rest.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      rest = rest.subarray(sp + 1 + len);
    }
    assert.equal(frames.length, r.exported);
    assert.equal(r.exported, 30);
    assert.ok(frames[7]!.startsWith('<36>1 '), 'facility 4 (auth) + severity warning (4) for the denial');
  });

  it('exports OTLP/HTTP JSON log records to an OTLP receiver', async () => {
    const bodies: { headers: Record<string, unknown>; body: { resourceLogs: { scopeLogs: { logRecords: { body: { stringValue: string }; severityNumber: number; attributes: { key: string }[] }[] }[] }[] } }[] = [];
    const server = createHttpServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => { text += c.toString(); });
      req.on('end', () => { bodies.push({ headers: req.headers, body: JSON.parse(text) }); res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const config = auditSchema.parse({ export: { otlp: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`, headers: { 'x-api-key': 'k' } } } });
    const r = await auditExportCommand(store, config, { to: 'otlp', since: '1h' }, process.stdout);
    server.close();
    assert.equal(r.exported, 30);
    const records = bodies.flatMap((b) => b.body.resourceLogs[0]!.scopeLogs[0]!.logRecords);
    assert.equal(records.length, 30);
    assert.equal(bodies[0]!.headers['content-type'], 'application/json');
    assert.equal(bodies[0]!.headers['x-api-key'], 'k');
    assert.equal(records[7]!.severityNumber, 13);
    assert.ok(records[0]!.attributes.some((a) => a.key === 'gatehouse.audit.hash'));
    assert.equal((JSON.parse(records[0]!.body.stringValue) as { seq: number }).seq, 1);
  });

  it('reports ERR_AUDIT_EXPORT_FAILED when the OTLP receiver refuses', async () => {
    const server = createHttpServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const config = auditSchema.parse({ export: { otlp: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs` } } });
    await assert.rejects(auditExportCommand(store, config, { to: 'otlp' }, process.stdout), { code: 'ERR_AUDIT_EXPORT_FAILED' });
    server.close();
  });

  async function retentionRecords(): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    for await (const r of queryAudit(store, { action: 'audit.retention.applied' })) out.push(r);
    return out;
  }

  it('deletes old records only up to a signed checkpoint, records the cut in the chain, and verification then starts from it', async () => {
    const r = await applyRetention(store, { chain: 'main', maxAgeMs: 0, now: Date.now() + 1000, signingKey: key });
    assert.equal(r.cutAt, 30);
    assert.equal(r.deletedRecords, 30);
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool'), signingKey: key, checkpointEveryRecords: 1000 });
    for (let i = 100; i < 105; i++) writer.append(accessDraft(i));
    await writer.close();
    const report = await verifyAudit(store, { trustedKeys: [key.publicJwk] });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.chains[0]!.startedFrom, 30);
    // The five new records and, before them, the record of the cut itself.
    assert.equal(report.records, 6);
    const [marker] = await retentionRecords();
    assert.equal(marker?.seq, 31);
    const { kid, jws, ...counts } = JSON.parse(marker!.details) as Record<string, unknown>;
    assert.deepEqual(counts, { cutAt: 30, deletedRecords: 30, deletedCheckpoints: 2, maxAgeMs: 0 });
    assert.equal(kid, key.kid);
    assert.equal(typeof jws, 'string');
    // The writer signed a checkpoint at close (seq 36): a second run may cut up to it, and records that cut.
    const second = await applyRetention(store, { chain: 'main', maxAgeMs: 0, now: Date.now() + 1000, signingKey: key });
    assert.deepEqual([second.cutAt, second.deletedRecords], [36, 6]);
    // A third run finds nothing new to cut and adds no record.
    assert.equal((await applyRetention(store, { chain: 'main', maxAgeMs: 0, now: Date.now() + 1000, signingKey: key })).deletedRecords, 0);
    // The record of the first cut went with the second; the second's is the one left.
    assert.deepEqual((await retentionRecords()).map((m) => (JSON.parse(m.details) as { cutAt: number }).cutAt), [36]);
    assert.equal((await verifyAudit(store, { trustedKeys: [key.publicJwk] })).ok, true);
  });

  it('samples allowed requests on a listed route, never denials, and records how many it left out', () => {
    let i = 0;
    const sampler = new AccessSampler({ routes: { health: 0.25 }, instance: 'gw-1', random: () => [0.1, 0.5, 0.9, 0.3][i++ % 4]! });
    const kept = [200, 200, 200, 200, 200, 200, 200, 200].map((s) => sampler.keep('health', s));
    assert.deepEqual(kept, [true, false, false, false, true, false, false, false]);
    assert.equal(sampler.keep('health', 403), true);
    assert.equal(sampler.keep('health', 500), true);
    assert.equal(sampler.keep('inbox', 200), true);
    const [count, ...none] = sampler.drain();
    assert.deepEqual(none, []);
    assert.equal(count!.event, 'audit.sampled');
    assert.deepEqual((JSON.parse(count!.details) as { routeId: string; sampledOut: number }).sampledOut, 6);
    assert.deepEqual(sampler.drain(), []);
  });
});
