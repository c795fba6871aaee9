/**
 * The route's total timeout (routes[].timeouts.totalMs) over real sockets, enforced by the
 * shared coarse deadline list: an upstream that never answers gets 504, and one that keeps
 * a response trickling (never idle long enough for the idle timeout) is cut off.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, insecureAgent, type TestGateway } from '../support/gateway.ts';

describe('upstream total timeout', () => {
  let gw: TestGateway;
  let stalled: Server;
  let trickle: Server;
  const trickleClosed: boolean[] = [];

  before(async () => {
    stalled = createServer(() => { /* never answers */ });
    trickle = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('.'), 20);
      res.on('close', () => { clearInterval(timer); trickleClosed.push(!res.writableFinished); });
    });
    for (const s of [stalled, trickle]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    gw = await startGateway({
      upstreams: { stalled: { url: url(stalled) }, trickle: { url: url(trickle) } },
      routes: [
        // Headers and idle timeouts far away: only the total timeout can end these exchanges.
        { id: 'stalled', path: '/stalled', upstream: 'stalled', access: 'public', timeouts: { headersMs: 60_000, idleMs: 60_000, totalMs: 300 } },
        { id: 'trickle', path: '/trickle', upstream: 'trickle', access: 'public', timeouts: { headersMs: 60_000, idleMs: 60_000, totalMs: 300 } },
      ],
    });
  });
  after(async () => {
    await gw.close();
    for (const s of [stalled, trickle]) { s.closeAllConnections(); s.close(); }
  });

  it('answers 504 ERR_GATEWAY_UPSTREAM_TIMEOUT when an upstream sends nothing within the total time', async () => {
    const res = await gw.fetch('/stalled/x');
    assert.equal(res.status, 504);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
    const line = gw.logs.lines.find((l) => l.route === 'stalled' && l.type === 'access');
    assert.equal(line?.code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
    assert.match(String(line?.detail), /total time 300 ms exceeded/);
  });

  it('cuts a response still trickling at the total time, so it cannot look complete, and aborts the upstream', async () => {
    const res = await request(`${gw.url}/trickle/x`, { dispatcher: insecureAgent });
    assert.equal(res.statusCode, 200);
    await assert.rejects(res.body.text(), 'the client sees a truncated body, not a complete one');
    const end = Date.now() + 3000;
    while (trickleClosed.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(trickleClosed, [true], 'the upstream response was abandoned before it finished');
  });
});
