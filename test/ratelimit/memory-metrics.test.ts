/**
 * The in-memory limiter's size and its evictions of keys still in debt are on /metrics: each
 * such eviction forgave a limited client, and docs/rate-limiting.md tells operators to size
 * `ratelimit.maxKeys` by it. Real composed gateway, real traffic from more client addresses
 * (through a trusted proxy) than the limiter may keep.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

function gauge(text: string, kind: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`gatehouse_ratelimit_memory{kind="${kind}"}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('in-memory rate limiter metrics', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      trustedProxies: ['127.0.0.1/32'],
      ratelimit: { maxKeys: 100, edge: { rate: 1, periodMs: 60_000, burst: 1 } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }, { compose: true });
  });
  after(async () => { await gw?.close(); await upstream?.close(); });

  it('reports the keys held and counts each eviction of a key still in debt (a limited client forgiven because maxKeys was too small)', async () => {
    const metrics = async () => (await (await request(`${gw.opsUrl}/metrics`)).body.text());
    assert.equal(gauge(await metrics(), 'evictions'), 0);
    // 130 clients, each over its edge limit after one request: more keys in debt than maxKeys.
    for (let i = 0; i < 130; i++) {
      const res = await gw.fetch('/app/x', { headers: { 'x-forwarded-for': `198.51.100.${i}` } });
      assert.equal(res.status, 200);
    }
    const text = await metrics();
    assert.ok((gauge(text, 'evictions') ?? 0) >= 30, text.split('\n').filter((l) => l.includes('ratelimit_memory')).join('\n'));
    const keys = gauge(text, 'keys') ?? -1;
    assert.ok(keys > 0 && keys <= 100, `keys ${keys}`);
  });
});
