/**
 * Strict-Transport-Security on a WebSocket 101: the gateway owns the host's transport
 * (http/strict-transport-security.ts), so an upstream's max-age=0 in its 101 must not switch
 * HSTS off for the host, as it cannot on any other response.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { rawTlsResponseHead } from '../support/raw-tls.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';

let upstream: RawUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startRawUpstream((socket) => {
    socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nStrict-Transport-Security: max-age=0\r\n\r\n'));
  });
  gw = await startGateway({
    upstreams: { app: { url: upstream.url } },
    routes: [{ id: 'ws', path: '/ws', upstream: 'app', access: 'public', websocket: true }],
  });
});

after(async () => {
  upstream.close();
  await gw.close();
});

it("an upstream's Strict-Transport-Security: max-age=0 on a WebSocket 101 (switching HSTS off for the host) is replaced by the gateway's", async () => {
  const head = await rawTlsResponseHead(gw.gateway.addresses().https.port,
    'GET /ws HTTP/1.1\r\nHost: mail.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 101 /);
  const hsts = head.match(/\r\nstrict-transport-security: ([^\r]*)/gi)?.map((l) => l.split(': ')[1]) ?? [];
  assert.deepEqual(hsts, ['max-age=31536000'], head);
});
