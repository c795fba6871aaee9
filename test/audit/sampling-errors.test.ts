/**
 * Sampling on a real gateway: a response that fails after its status line was sent (the
 * upstream breaks off mid-body) is an error, and errors are never sampled out, whatever
 * the status the client had already received.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { auditExtension, type AuditExtension } from '../../src/audit/extension.ts';
import { queryAudit } from '../../src/audit/query.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { insecureAgent, startUpstream, testConfig, type TestUpstream } from '../support/gateway.ts';

describe('audit sampling and failed responses', () => {
  let dir: string;
  let store: Store;
  let gateway: Gateway;
  let upstream: TestUpstream;
  let audit: AuditExtension;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-sampling-'));
    upstream = await startUpstream((req, res) => {
      if (req.url?.endsWith('/broken')) {
        // Status and part of the body, then the connection is cut.
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
        res.write('partial');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    const loaded = parseConfig(testConfig(dir, {
      instanceId: 'sampling',
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'feed', path: '/feed', upstream: 'app', access: 'public' }, { id: 'api', path: '/api', upstream: 'app' }],
      audit: { sampling: { routes: { feed: 0, api: 0 } } },
    }), { env: {}, source: 'sampling' });
    const logger = pino({ level: 'silent' });
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`, { logger });
    await store.migrate();
    audit = auditExtension({ config: loaded.config, logger, store, bus: new MemoryEventBus({ instanceId: 'sampling', logger }) });
    gateway = await Gateway.start({ config: loaded, logger, watch: false, extensions: [audit] });
    base = `https://127.0.0.1:${gateway.addresses().https.port}`;
  });

  after(async () => {
    await gateway?.stop();
    await store?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an upstream that breaks off mid-body on a route sampled at 0 is still recorded, with its error code', async () => {
    const ok = await request(`${base}/feed/fine`, { dispatcher: insecureAgent });
    assert.equal(await ok.body.text(), 'ok');
    const broken = await request(`${base}/feed/broken`, { dispatcher: insecureAgent });
    assert.equal(broken.statusCode, 200);
    await assert.rejects(broken.body.text(), 'the client sees the response cut off');
    // The sink runs as each response closes; wait for the failed one's record.
    let records = await accessRecords();
    for (const deadline = Date.now() + 3000; records.length === 0 && Date.now() < deadline; records = await accessRecords()) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(records.map((r) => r.details.path), ['/feed/broken'], 'the allowed, complete request is sampled out; the failed one is not');
    assert.match(records[0]!.details.errorCode ?? '', /^ERR_GATEWAY_UPSTREAM/);
    assert.equal(records[0]!.outcome, 'error', 'a response cut off by an upstream failure is an error, whatever its status line said');
  });

  it('a request refused for want of a credential (401) on a route sampled at 0 is recorded as denied, never sampled out', async () => {
    const refused = await request(`${base}/api/x`, { dispatcher: insecureAgent });
    await refused.body.dump();
    assert.equal(refused.statusCode, 401);
    let records = await accessRecords();
    for (const deadline = Date.now() + 3000; !records.some((r) => r.details.path === '/api/x') && Date.now() < deadline; records = await accessRecords()) await new Promise((r) => setTimeout(r, 20));
    const denied = records.find((r) => r.details.path === '/api/x');
    assert.equal(denied?.outcome, 'denied', 'a denial is never sampled out, whatever the route\'s rate');
    assert.equal(denied?.details.errorCode, 'ERR_AUTHN_REQUIRED');
  });

  async function accessRecords(): Promise<{ outcome: string; details: { path: string; errorCode?: string } }[]> {
    await audit.writer!.flush();
    const out = [];
    for await (const r of queryAudit(store, { event: 'gateway.request' })) out.push({ outcome: r.outcome, details: JSON.parse(r.details) as { path: string; errorCode?: string } });
    return out;
  }
});
