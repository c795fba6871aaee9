/**
 * Durability: a Gatehouse process is killed with SIGKILL while under load; after a
 * restart, every request that got a complete response has its access record, exactly
 * once, and the chain verifies (no gap, no fork from the transaction the kill cut). The load
 * includes request heads Node's HTTP parser refuses (431): their answers too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { openStore } from '../../src/store/index.ts';
import { queryAudit } from '../../src/audit/query.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { trustedKeysFor } from '../../src/audit/commands/trusted-keys.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest } from '../support/raw-tls.ts';

const CONCURRENCY = 16;
const CHILD = join(import.meta.dirname, 'fixtures', 'gateway-child.ts');

async function startChild(configFile: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [CHILD, configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`child exited early with ${String(code)}`); });
  const ready = (async () => {
    for await (const line of lines) {
      const m = /^READY (\d+)$/.exec(line);
      if (m) return Number(m[1]);
    }
    throw new Error('child closed stdout');
  })();
  const port = await Promise.race([ready, exited]);
  return { child, port };
}

// Both ways an instance commits its batches: on the commit thread (the default; the kill may cut a
// transaction of that thread's connection) and on the main thread.
for (const commitThread of [true, false]) describe(`audit durability under kill -9, batches committed ${commitThread ? 'on the commit thread' : 'on the main thread'}`, () => {
  let dir: string;
  let upstream: TestUpstream;
  let configFile: string;
  const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: 32 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-kill-'));
    upstream = await startUpstream((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'); });
    configFile = join(dir, 'gatehouse.yaml');
    await writeFile(configFile, stringify({
      dataDir: join(dir, 'data'),
      instanceId: 'kill-test',
      listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } },
      logging: { level: 'warn', accessLog: false },
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
      // Long group-commit windows: without the spool, a kill would lose hundreds of queued events.
      audit: { checkpoint: { everyRecords: 500 }, batchMaxDelayMs: 250, batchMaxEvents: 10000, commitThread },
    }));
  });
  after(async () => {
    await agent.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the access record of every request that reached the audit sink when the process is killed mid-load; no duplicates, and the chain verifies after restart', async () => {
    const first = await startChild(configFile);
    const answered = new Set<string>();
    let stop = false;
    let errors = 0;
    const worker = async () => {
      while (!stop) {
        try {
          const res = await request(`https://127.0.0.1:${first.port}/app/x`, { dispatcher: agent });
          const body = await res.body.text();
          // A request counts only once its whole response arrived.
          if (res.statusCode === 200 && body === 'ok') answered.add(String(res.headers['x-request-id']));
        } catch {
          errors += 1;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    // Heads Node's HTTP parser refuses (431, no request ever made) take the same error path:
    // answered only once their record is in the spool.
    const refused = new Set<string>();
    const refusalWorker = async () => {
      while (!stop) {
        try {
          const raw = await rawTlsRequest(first.port, `GET /app/x HTTP/1.1\r\nHost: localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 2000);
          const id = /\r\nx-request-id: ([^\r]+)/i.exec(raw)?.[1];
          // Counted only once the whole answer arrived: its JSON body ends the response.
          if (raw.startsWith('HTTP/1.1 431 ') && id !== undefined && raw.endsWith('}}\n')) refused.add(id);
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const workers = [...Array.from({ length: CONCURRENCY }, worker), refusalWorker(), refusalWorker()];
    // Let load build up, then kill in the middle of it.
    while (answered.size < 1000) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    stop = true;
    await Promise.all(workers);
    assert.ok(answered.size >= 1000);
    assert.ok(refused.size > 0, 'some refused heads were answered before the kill');

    // Restart: the spool left by the killed process is replayed; then stop gracefully.
    const second = await startChild(configFile);
    second.child.kill('SIGTERM');
    const [code, signal] = await once(second.child, 'exit');
    assert.deepEqual({ code, signal }, { code: 0, signal: null });

    const config = parseConfig({ dataDir: join(dir, 'data') }, { env: {}, source: 'test' }).config;
    const store = await openStore(`sqlite:${join(dir, 'data', 'gatehouse.db')}`);
    try {
      const recorded = new Map<string, number>();
      for await (const r of queryAudit(store, { event: 'gateway.request' })) recorded.set(r.requestId!, (recorded.get(r.requestId!) ?? 0) + 1);
      const missing = [...answered].filter((id) => !recorded.has(id));
      // The gateway records a request (spool line written synchronously) before it writes the
      // last bytes of the response, so every answer a client received has its access event.
      assert.deepEqual(missing, [], `${missing.length} of ${answered.size} answered requests have no access record`);
      const missingRefused = [...refused].filter((id) => !recorded.has(id));
      assert.deepEqual(missingRefused, [], `${missingRefused.length} of ${refused.size} answered parser refusals have no access record`);
      assert.deepEqual([...recorded.values()].filter((n) => n !== 1), [], 'no request recorded twice');
      const report = await verifyAudit(store, { trustedKeys: await trustedKeysFor(config) });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      console.log(`# answered ${answered.size} requests and ${refused.size} parser refusals before SIGKILL (${errors} client errors after it); ${recorded.size} access records after restart; ${missing.length} answered without record (response sent, sink not yet run); chain verified (${report.records} records)`);
    } finally {
      await store.close();
    }
  });
});
