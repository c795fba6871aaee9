/**
 * Fields an upstream names in the Connection field of its WebSocket 101 are its own hop-by-hop
 * fields (an internal token, a debug header), stopped at the gateway as on every other
 * response; the client still gets Connection: Upgrade and Upgrade: websocket.
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
    socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Internal-Token\r\nConnection: X-Debug-Node\r\nX-Internal-Token: s3cr3t-internal\r\nX-Debug-Node: node-7.internal\r\nKeep-Alive: timeout=5\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'));
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

it('an upstream field named hop-by-hop in its WebSocket 101 (Connection: Upgrade, X-Internal-Token) does not reach the client; the switch still does', async () => {
  const head = await rawTlsResponseHead(gw.gateway.addresses().https.port,
    'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.doesNotMatch(head, /s3cr3t-internal|node-7\.internal|keep-alive/i, head);
  assert.match(head, /\r\nupgrade: websocket\r\n/i);
  assert.deepEqual(head.match(/\r\nconnection: [^\r]*/gi), ['\r\nconnection: Upgrade'], head);
  assert.match(head, /\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
});
