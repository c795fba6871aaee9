/**
 * Operator actions on the ops listener (POST, e.g. /certificates/rotate) are accepted from
 * peers on the same host only. The listener is often bound beyond loopback so that probes and
 * Prometheus reach it; that must not let any other pod or host on the network trigger actions.
 *
 * Tests bind servers to loopback only, so a remote peer cannot be produced here: the peer
 * decision is tested on the addresses Node reports (IPv4, IPv6, IPv4-mapped), and the listener
 * is tested end to end from loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { request, type Server } from 'node:http';
import { Registry } from 'prom-client';
import { createOpsServer, isLoopbackPeer } from '../../src/observability/ops-server.ts';
import { HealthRegistry } from '../../src/observability/health.ts';

describe('ops listener actions', () => {
  it('a peer on another host (10.0.0.5, its IPv4-mapped form, a link-local or global IPv6 address) may not trigger operator actions', () => {
    for (const remote of ['10.0.0.5', '::ffff:10.0.0.5', '192.168.1.20', 'fe80::1', '2001:db8::1', '0.0.0.0', '::', '128.0.0.1', '::ffff:128.0.0.1', undefined]) {
      assert.equal(isLoopbackPeer(remote), false, String(remote));
    }
    for (const local of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackPeer(local), true, local);
  });

  let server: Server;
  let url: string;
  let calls = 0;
  before(async () => {
    server = createOpsServer({
      health: new HealthRegistry('test'), registry: new Registry(), isDraining: () => false,
      actions: () => new Map([['/act', async () => { calls += 1; return { done: true }; }]]),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('runs an action posted as JSON from loopback, and refuses a GET and a form post (cross-site) without running it', async () => {
    const ok = await fetch(`${url}/act`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { done: true });
    assert.equal((await fetch(`${url}/act`)).status, 405);
    assert.equal((await fetch(`${url}/act`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' })).status, 415);
    assert.equal(calls, 1);
  });

  it('refuses an action whose Host is not a loopback name (DNS rebinding from a web page on the operator\'s machine) without running it', async () => {
    const before = calls;
    const post = (host: string | undefined) => new Promise<number>((resolve, reject) => {
      const req = request(`${url}/act`, { method: 'POST', headers: { 'content-type': 'application/json', ...(host === undefined ? {} : { host }) }, setHost: host !== undefined }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on('error', reject);
      req.end('{}');
    });
    // A page at rebind.example whose name now resolves to 127.0.0.1 is same-origin to the browser: no preflight.
    // Refused for every path under a name the listener does not serve (ops-host.test.ts).
    for (const host of ['rebind.example:9090', 'rebind.example', '127.0.0.1.nip.io:9090', 'localhost.evil.example']) {
      assert.equal(await post(host), 421, host);
    }
    // Other hosts' addresses pass that check (probes use them) but are no loopback name for an action.
    for (const host of ['10.0.0.5:9090', '[fd00::7]:9090']) assert.equal(await post(host), 403, host);
    // No Host at all: Node refuses the HTTP/1.1 request itself.
    assert.equal(await post(undefined), 400);
    assert.equal(calls, before);
    for (const host of ['127.0.0.1:9090', 'localhost:9090', 'LOCALHOST', '[::1]:9090', '127.0.0.1']) assert.equal(await post(host), 200, host);
    assert.equal(calls, before + 5);
  });
});
