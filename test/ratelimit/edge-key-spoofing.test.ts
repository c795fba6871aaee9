/**
 * Attacks on the edge bucket's key through a real composed gateway (real sockets, in-memory
 * limiter): a client that names its own address in X-Forwarded-For, behind no proxy or to the
 * left of what a trusted proxy wrote, and one address spelled several ways (IPv4-mapped IPv6,
 * upper case, uncompressed). Each must land in the one bucket of the address the gateway
 * actually believes, and be refused with 429 once its burst is spent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const ratelimit = { identity: { enabled: false }, edge: { rate: 1, periodMs: 60_000, burst: 3, ipv6Prefix: { enabled: false } } };

function assertRefused(res: { status: number; headers: Record<string, string | string[] | undefined>; body: string }): void {
  assert.equal(res.status, 429, res.body);
  assert.match(res.body, /ERR_RATELIMIT_EXCEEDED/);
  assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After ${String(res.headers['retry-after'])}`);
}

describe('edge rate-limit key spoofing', () => {
  let upstream: TestUpstream;
  let direct: TestGateway;
  let proxied: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    const routes = [{ id: 'app', path: '/app', upstream: 'app', access: 'public' as const }];
    direct = await startGateway({ ratelimit, upstreams: { app: { url: upstream.url } }, routes }, { compose: true });
    proxied = await startGateway({ trustedProxies: ['127.0.0.1/32'], ratelimit, upstreams: { app: { url: upstream.url } }, routes }, { compose: true });
  });
  after(async () => {
    await direct?.close();
    await proxied?.close();
    await upstream?.close();
  });

  it('ignores X-Forwarded-For from an untrusted peer: a client rotating spoofed addresses stays in its own bucket and is refused after its burst', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await direct.fetch('/app/x', { headers: { 'x-forwarded-for': `203.0.113.${i}` } })).status, 200);
    }
    assertRefused(await direct.fetch('/app/x', { headers: { 'x-forwarded-for': '203.0.113.99' } }));
    assertRefused(await direct.fetch('/app/x', { headers: { 'x-forwarded-for': '2001:db8::1' } }));
  });

  it('behind a trusted proxy, addresses a client prepends to X-Forwarded-For do not pick its bucket: refused after its burst, its neighbour is not', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': `10.9.${i}.1, 198.51.100.7` } })).status, 200);
    }
    assertRefused(await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': '127.0.0.1, 198.51.100.7' } }));
    assert.equal((await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': '198.51.100.8' } })).status, 200);
  });

  it('an IPv4 client spelled as IPv4-mapped IPv6 (dotted or hex) shares the bucket of its IPv4 address: refused after its burst', async () => {
    for (const spelling of ['198.51.100.20', '::ffff:198.51.100.20', '[::FFFF:c633:6414]:4431']) {
      assert.equal((await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': spelling } })).status, 200, spelling);
    }
    assertRefused(await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': '0:0:0:0:0:ffff:198.51.100.20' } }));
  });

  it('an IPv6 client spelling its /64 in upper case, uncompressed or with other host bits shares one bucket: refused after its burst', async () => {
    for (const spelling of ['2001:DB8:AA:1::1', '2001:0db8:00aa:0001:0000:0000:0000:0002', '[2001:db8:aa:1:ffff::3]']) {
      assert.equal((await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': spelling } })).status, 200, spelling);
    }
    assertRefused(await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': '2001:db8:aa:1:dead:beef:0:4' } }));
    assert.equal((await proxied.fetch('/app/x', { headers: { 'x-forwarded-for': '2001:db8:aa:2::1' } })).status, 200, 'the next /64 has its own bucket');
  });
});
