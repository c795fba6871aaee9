/**
 * The audit policy follows a configuration reload (SIGHUP) on a real gateway with the audit
 * extension: an operator who spots a secret shape and adds a redaction pattern gets it
 * scrubbed from every audit record and log line written after the reload, and new sampling
 * rates apply to the next requests. Before, `audit` was read at start only and the reload
 * just logged that it needed a restart, while the secret kept being written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { stringify } from 'yaml';
import { auditExtension, type AuditExtension } from '../../src/audit/extension.ts';
import { queryAudit, viewRecord, type AuditRecordView } from '../../src/audit/query.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { startUpstream, testConfig, type TestUpstream, insecureAgent } from '../support/gateway.ts';
import { request } from 'undici';

const SECRET_SHAPE = 'acme-live-[0-9a-f]{24}';
const secret = () => `acme-live-${randomBytes(12).toString('hex')}`;

describe('audit policy on configuration reload', () => {
  let dir: string;
  let configFile: string;
  let store: Store;
  let gateway: Gateway;
  let upstream: TestUpstream;
  let audit: AuditExtension | undefined;
  let base: string;
  const logLines: string[] = [];

  const settings = (auditSection: ConfigInput['audit']): ConfigInput => testConfig(dir, {
    instanceId: 'audit-reload',
    upstreams: { app: { url: upstream.url } },
    routes: [{ id: 'files', path: '/files', upstream: 'app', access: 'public' }, { id: 'feed', path: '/feed', upstream: 'app', access: 'public' }],
    audit: auditSection,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-reload-'));
    upstream = await startUpstream((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'); });
    configFile = join(dir, 'gatehouse.yaml');
    await writeFile(configFile, stringify(settings({ fsync: false })));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`, { logger: pino({ level: 'silent' }) });
    await store.migrate();
    // The gateway builds its own logger (as `gatehouse start` does), writing here.
    const logDestination = new Writable({ write(chunk: Buffer, _enc, cb) { logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); cb(); } });
    gateway = await Gateway.start({
      configFile, watch: false, handleSignals: true, env: {}, logDestination,
      compose: async (config, logger) => [audit = auditExtension({ config, logger, store, bus: new MemoryEventBus({ instanceId: 'audit-reload', logger }) })],
    });
    base = `https://127.0.0.1:${gateway.addresses().https.port}`;
  });

  after(async () => {
    await gateway?.stop();
    await store?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function get(path: string): Promise<void> {
    const res = await request(base + path, { dispatcher: insecureAgent });
    assert.equal(res.statusCode, 200);
    await res.body.text();
  }

  async function accessRecords(): Promise<AuditRecordView[]> {
    // The sink runs as each response closes: give the last one a moment, then commit the batch.
    await new Promise((r) => setTimeout(r, 50));
    await audit!.writer!.flush();
    const out: AuditRecordView[] = [];
    for await (const r of queryAudit(store, { event: 'gateway.request' })) out.push(viewRecord(r));
    return out;
  }

  /** A real SIGHUP to this process, as an operator sends it; resolves when the reload is logged. */
  async function sighup(auditSection: ConfigInput['audit']): Promise<void> {
    await writeFile(configFile, stringify(settings(auditSection)));
    const before = logLines.length;
    process.kill(process.pid, 'SIGHUP');
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      const lines = logLines.slice(before).map((l) => JSON.parse(l) as { msg: string; reason?: string; restartOnly?: string[] });
      const done = lines.find((l) => l.msg === 'configuration reloaded' && l.reason === 'SIGHUP');
      if (done) {
        assert.deepEqual(done.restartOnly, [], 'nothing waits for a restart');
        return;
      }
    }
    assert.fail('the reload was not logged');
  }

  it('a secret of a shape added to audit.redact.patterns by reload appears in neither the audit store nor the logs after it', async () => {
    const before = secret();
    await get(`/files/${before}`);
    const seen = await accessRecords();
    assert.ok(seen.some((r) => JSON.stringify(r).includes(before)), 'without the pattern the secret is recorded (the shape is not a built-in one)');
    assert.ok(logLines.some((l) => l.includes(before)), 'and logged');

    await sighup({ fsync: false, redact: { patterns: [SECRET_SHAPE] } });
    const leaked = secret();
    await get(`/files/${leaked}`);
    const records = await accessRecords();
    const last = records.at(-1)!;
    assert.equal((last.details as { path: string }).path, '/files/[REDACTED]');
    assert.ok(!records.some((r) => JSON.stringify(r).includes(leaked)), 'the secret is in no audit record');
    assert.ok(logLines.some((l) => l.includes('/files/[REDACTED]')), 'the access log line is written, redacted');
    assert.ok(!logLines.some((l) => l.includes(leaked)), 'the secret is in no log line');
  });

  it('a route sampled out by reload stops being recorded, and its sampled-out requests are counted', async () => {
    await get('/feed/one');
    assert.ok((await accessRecords()).some((r) => (r.details as { path: string }).path === '/feed/one'));

    await sighup({ fsync: false, redact: { patterns: [SECRET_SHAPE] }, sampling: { routes: { feed: 0 } } });
    await get('/feed/two');
    await get('/feed/three');
    assert.ok(!(await accessRecords()).some((r) => ['/feed/two', '/feed/three'].includes((r.details as { path: string }).path)), 'allowed requests on the route are sampled out');
    // The counts are recorded at the next flush or at stop: a reload back drains them at once.
    await sighup({ fsync: false, redact: { patterns: [SECRET_SHAPE] } });
    await audit!.writer!.flush();
    const counts: AuditRecordView[] = [];
    for await (const r of queryAudit(store, { event: 'audit.sampled' })) counts.push(viewRecord(r));
    assert.deepEqual(counts.map((r) => r.details), [{ routeId: 'feed', sampledOut: 2, rate: 0, since: (counts[0]!.details as { since: string }).since, until: (counts[0]!.details as { until: string }).until }]);
  });
});
