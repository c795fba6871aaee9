/**
 * Every request's path goes through the audit redactor (its access record, and the log line of a
 * 404). A path built to make the redaction patterns backtrack must cost what any other path
 * costs: through a real gateway with the audit extension, it is answered as fast as any 404.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { auditExtension, type AuditExtension } from '../../src/audit/extension.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { captureLogger, insecureAgent, startUpstream, testConfig, type TestUpstream } from '../support/gateway.ts';

describe('redaction of hostile request paths through a running gateway', () => {
  let dir: string;
  let store: Store;
  let gateway: Gateway;
  let upstream: TestUpstream;
  let audit: AuditExtension;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-redos-'));
    upstream = await startUpstream();
    const loaded = parseConfig(testConfig(dir, {
      instanceId: 'redos',
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }), { env: {}, source: 'redos' });
    const { logger } = captureLogger();
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`, { logger });
    await store.migrate();
    audit = auditExtension({ config: loaded.config, logger, store, bus: new MemoryEventBus({ instanceId: 'redos', logger }) });
    gateway = await Gateway.start({ config: loaded, logger, watch: false, extensions: [audit] });
    base = `https://127.0.0.1:${gateway.addresses().https.port}`;
  });
  after(async () => {
    await gateway?.stop();
    await store?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function timed(path: string, headers: Record<string, string> = {}): Promise<{ status: number; ms: number }> {
    const started = performance.now();
    const res = await request(base + path, { dispatcher: insecureAgent, headers });
    await res.body.text();
    return { status: res.statusCode, ms: performance.now() - started };
  }

  it('answers and records 4 kB paths of token.token.… and x-token-x-token-… (404, the longest path accepted) in well under a second (the redaction of its access record and 404 log line is linear)', async () => {
    await timed('/app/warm');
    for (const unit of ['token.', 'x-token-']) {
      const hostile = timed(`/${unit.repeat(Math.floor(4000 / unit.length))}`);
      await new Promise((r) => setTimeout(r, 20));
      const other = await timed('/app/inbox');
      const h = await hostile;
      assert.deepEqual([h.status, other.status], [404, 200]);
      assert.ok(h.ms < 750 && other.ms < 750, `${unit}: hostile ${h.ms.toFixed(0)} ms, other ${other.ms.toFixed(0)} ms`);
    }
    await audit.writer!.flush();
    assert.ok(audit.writer!.stats().committed >= 5);
  });
});
