/**
 * An upstream that was down when a reload removed it kept `gatehouse_upstream_healthy 0` on
 * /metrics for the life of the process, so the alert on it fired for good about an upstream
 * that no longer exists.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Agent, request } from 'undici';
import { Gateway } from '../../src/gateway/gateway.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { startUpstream, testConfig, type TestUpstream } from '../support/gateway.ts';

let dir: string;
let upstream: TestUpstream;
let gateway: Gateway;
const agent = new Agent({ connect: { rejectUnauthorized: false } });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-removed-upstream-'));
  upstream = await startUpstream();
});

after(async () => {
  await gateway?.stop();
  await upstream.close();
  await agent.close();
  await rm(dir, { recursive: true, force: true });
});

async function healthSeries(): Promise<string[]> {
  const res = await request(`http://127.0.0.1:${gateway.addresses().ops.port}/metrics`);
  return (await res.body.text()).split('\n').filter((l) => l.startsWith('gatehouse_upstream_healthy{'));
}

it('a reload that removes an upstream which was down removes its gatehouse_upstream_healthy series', async () => {
  // Port 9 on loopback: nothing listens (connection refused → 502, gauge 0).
  const withLegacy = testConfig(dir, {
    upstreams: { app: { url: upstream.url }, legacy: { url: 'http://127.0.0.1:9' } },
    routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }, { id: 'legacy', path: '/legacy', upstream: 'legacy', access: 'public' }],
  });
  await writeFile(join(dir, 'gatehouse.yaml'), stringify(withLegacy));
  gateway = await Gateway.start({ config: parseConfig(withLegacy, { env: {} }), configFile: join(dir, 'gatehouse.yaml'), watch: false, env: {} });
  const base = `https://127.0.0.1:${gateway.addresses().https.port}`;
  assert.equal((await request(`${base}/legacy/x`, { dispatcher: agent }).then(async (r) => { await r.body.dump(); return r.statusCode; })), 502);
  await request(`${base}/app/x`, { dispatcher: agent }).then((r) => r.body.dump());
  assert.deepEqual((await healthSeries()).sort(), ['gatehouse_upstream_healthy{upstream="app"} 1', 'gatehouse_upstream_healthy{upstream="legacy"} 0']);

  await writeFile(join(dir, 'gatehouse.yaml'), stringify(testConfig(dir, {
    upstreams: { app: { url: upstream.url } },
    routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
  })));
  assert.equal((await gateway.reload('test')).applied, true);
  assert.deepEqual(await healthSeries(), ['gatehouse_upstream_healthy{upstream="app"} 1']);
});
