/**
 * A client waiting on a slow upstream is not cut off by the listener's own socket timeouts:
 * while Gatehouse waits for an upstream's headers (routes[].timeouts.headersMs) or for the
 * next chunk of a streamed body (idleMs), the client's socket is silent, and the route's
 * timeouts — not the listener's slowloris limits (headersTimeoutMs, keepAliveTimeoutMs),
 * which are about the client — decide how long that may last.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, insecureAgent, type TestGateway } from '../support/gateway.ts';

// Listener limits far below the upstream's delays, the slow-read timer (sendTimeoutMs, Node's
// server.timeout) among them: it fires while the client waits, and must not cut it.
const LIMITS = { headersTimeoutMs: 300, keepAliveTimeoutMs: 200, sendTimeoutMs: 300 };
const DELAY_MS = 2000;

describe('slow upstream behind short client-side limits', () => {
  let gw: TestGateway;
  let slow: Server;

  before(async () => {
    slow = createServer((req, res) => {
      if (req.url?.startsWith('/late')) {
        setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('late but fine'); }, DELAY_MS);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      setTimeout(() => res.end('second'), DELAY_MS);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    gw = await startGateway({
      limits: LIMITS,
      upstreams: { slow: { url } },
      routes: [{ id: 'slow', path: '/', upstream: 'slow', access: 'public', timeouts: { headersMs: 10_000, idleMs: 10_000, totalMs: 20_000 } }],
    });
  });
  after(async () => {
    await gw.close();
    slow.closeAllConnections();
    slow.close();
  });

  it('an upstream that answers after 2 s (route headersMs 10 s) reaches the client: 200, not a reset at the listener\'s idle timeout', async () => {
    const res = await request(`${gw.url}/late`, { dispatcher: insecureAgent });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'late but fine');
  });

  it('a streamed body that pauses 2 s between chunks (route idleMs 10 s) arrives whole', async () => {
    const res = await request(`${gw.url}/pause`, { dispatcher: insecureAgent });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'first,second');
  });
});
