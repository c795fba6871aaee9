/**
 * Only WebSocket is tunnelled. Any other Upgrade (h2c above all) would open a tunnel in which
 * the client talks to the upstream directly, request after request, past routing and policy
 * (h2c smuggling). The upstream here is permissive on purpose: it answers 101 to whatever it
 * is asked, as a misconfigured one would, and records every handshake it saw.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';

describe('upgrade protocols other than WebSocket', () => {
  let gw: TestGateway;
  let upstream: Server;
  let port: number;
  const handshakes: IncomingMessage['headers'][] = [];

  before(async () => {
    upstream = createServer();
    upstream.on('upgrade', (req: IncomingMessage, socket) => {
      handshakes.push(req.headers);
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade ?? ''}\r\nConnection: Upgrade\r\n\r\n`);
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('tunnel:'), d])));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      upstreams: { ws: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } },
      routes: [{ id: 'ws', path: '/ws', upstream: 'ws', access: 'public', websocket: true }],
    });
    port = gw.gateway.addresses().https.port;
  });
  after(async () => { await gw.close(); upstream.closeAllConnections(); upstream.close(); });

  const cases: [string, string][] = [
    ['h2c', 'GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n'],
    ['websocket, h2c', 'GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'],
    ['TLS/1.2', 'GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n'],
    ['websocket on POST', 'POST /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n'],
  ];
  for (const [name, head] of cases) {
    it(`refuses Upgrade ${name} with 400 ERR_REQUEST_MALFORMED and opens no tunnel to the upstream (h2c smuggling)`, async () => {
      const seen = handshakes.length;
      const out = await rawTlsRequest(port, head + 'GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal(statusOf(out), 400, out);
      assert.match(out, /ERR_REQUEST_MALFORMED/);
      assert.doesNotMatch(out, /tunnel:/);
      assert.equal(handshakes.length, seen, 'the upstream saw no handshake');
    });
  }

  it('still tunnels a WebSocket handshake (any letter case)', async () => {
    const seen = handshakes.length;
    const out = await rawTlsRequest(port, 'GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nping', 1000);
    assert.equal(statusOf(out), 101, out);
    assert.match(out, /tunnel:ping/);
    assert.equal(handshakes.length, seen + 1);
    assert.equal(handshakes.at(-1)!.upgrade, 'websocket');
  });
});
