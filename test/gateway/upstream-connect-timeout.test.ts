/**
 * The route's connect timeout (routes[].timeouts.connectMs) over real sockets. Before, it was
 * documented and validated but read by nothing: every upstream connection waited undici's
 * fixed 5 s, so a route set to fail fast on an unreachable upstream (connectMs: 300) held
 * each client for 5 s. The upstream here accepts TCP and never answers the TLS handshake
 * (the connect timeout covers the handshake of an https:// upstream), so only a timeout
 * ends the exchange; two routes to it with different connect timeouts each get their own.
 * The total timeout ends an exchange still waiting for its connection (it could not, before:
 * the fixed 5 s connect timeout hid that).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../support/gateway.ts';

describe('upstream connect timeout', () => {
  let gw: TestGateway;
  let silent: Server;
  const held: Socket[] = [];

  before(async () => {
    // Accepts the connection, reads the ClientHello, answers nothing.
    silent = createServer((socket) => { held.push(socket); socket.on('error', () => undefined); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      upstreams: { silent: { url: `https://127.0.0.1:${(silent.address() as AddressInfo).port}` } },
      routes: [
        // Everything else far away: only the connect timeout can end this exchange early.
        { id: 'fast', path: '/fast', upstream: 'silent', access: 'public', timeouts: { connectMs: 300, headersMs: 60_000, idleMs: 60_000, totalMs: 60_000 } },
        // The same upstream, a connect timeout beyond the total: the total ends it, not 300 ms.
        { id: 'patient', path: '/patient', upstream: 'silent', access: 'public', timeouts: { connectMs: 60_000, headersMs: 60_000, idleMs: 60_000, totalMs: 1_500 } },
      ],
    });
  });
  let stopped = false;
  after(async () => {
    if (!stopped) await gw.close();
    for (const s of held) s.destroy();
    silent.close();
  });

  it('an upstream that never completes its connection is given up after the route\'s connectMs (300 ms), not a fixed 5 s: 504 ERR_GATEWAY_UPSTREAM_TIMEOUT', async () => {
    const started = Date.now();
    const res = await gw.fetch('/fast/x');
    const elapsed = Date.now() - started;
    assert.equal(res.status, 504);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
    const line = gw.logs.lines.find((l) => l.route === 'fast' && l.type === 'access');
    assert.match(String(line?.detail), /UND_ERR_CONNECT_TIMEOUT/);
    // Which timeout applied, not how fast: 300 ms against the 5,000 ms that applied before.
    assert.ok(elapsed < 4_000, `gave up after ${elapsed} ms`);
  });

  it('another route to the same upstream keeps its own, longer connect timeout (a pool of its own), and its total timeout (1.5 s) ends the exchange while it is still connecting — before, the total timeout waited for a connection', async () => {
    const started = Date.now();
    const res = await gw.fetch('/patient/x');
    const elapsed = Date.now() - started;
    assert.equal(res.status, 504);
    const line = gw.logs.lines.find((l) => l.route === 'patient' && l.type === 'access');
    assert.match(String(line?.detail), /total time 1500 ms exceeded/);
    assert.ok(elapsed < 10_000, `answered after ${elapsed} ms, not at the 60 s connect timeout`);
  });

  it('stopping the gateway does not wait for the connection attempt the patient route left pending (its 60 s connect timeout): before, stop took the rest of that minute', async () => {
    const started = Date.now();
    await gw.close();
    stopped = true;
    const elapsed = Date.now() - started;
    // Which wait applied, not how fast: none against the ~58 s left of the connect timeout.
    assert.ok(elapsed < 10_000, `stopped after ${elapsed} ms`);
  });
});
