/**
 * Graceful shutdown with an open WebSocket tunnel: docs/request-path.md promises that what is
 * left after limits.shutdownGraceMs is cut. A tunnel is no longer an HTTP connection Node's
 * server tracks (closeAllConnections does not see it), so the gateway has to cut it itself.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startGateway } from '../support/gateway.ts';

it('an open WebSocket tunnel does not hold up shutdown: stop() returns within shutdownGraceMs and both sides of the tunnel are closed', async () => {
  let upstreamSideClosed = false;
  const ws = createServer();
  ws.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
    // Node's HTTP server sockets allow half-open: the gateway's close arrives as 'end'.
    socket.on('end', () => { upstreamSideClosed = true; });
    socket.on('close', () => { upstreamSideClosed = true; });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => ws.listen(0, '127.0.0.1', r));
  const gw = await startGateway({
    limits: { shutdownGraceMs: 500 },
    upstreams: { ws: { url: `http://127.0.0.1:${(ws.address() as AddressInfo).port}` } },
    routes: [{ id: 'ws', path: '/ws', upstream: 'ws', access: 'public', websocket: true }],
  });
  const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    let data = '';
    let clientSideClosed = false;
    socket.on('data', (d: Buffer) => { data += d; });
    socket.on('close', () => { clientSideClosed = true; });
    socket.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    const until = Date.now() + 3000;
    while (!/\r\n\r\n/.test(data) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.match(data, /^HTTP\/1\.1 101/);

    const started = Date.now();
    const stopped = gw.gateway.stop().then(() => Date.now() - started);
    const outcome = await Promise.race([stopped, new Promise<string>((r) => setTimeout(() => r('still stopping after 3 s'), 3000).unref())]);
    assert.equal(typeof outcome, 'number', `stop() did not finish: ${outcome}`);
    assert.ok((outcome as number) < 2000, `stop() took ${outcome} ms with shutdownGraceMs 500`);
    const closedBy = Date.now() + 1000;
    while (!(clientSideClosed && upstreamSideClosed) && Date.now() < closedBy) await new Promise((r) => setTimeout(r, 20));
    assert.ok(clientSideClosed, 'the client side of the tunnel was closed');
    assert.ok(upstreamSideClosed, 'the upstream side of the tunnel was closed');
  } finally {
    socket.destroy();
    ws.closeAllConnections();
    ws.close();
    await gw.close();
  }
});
