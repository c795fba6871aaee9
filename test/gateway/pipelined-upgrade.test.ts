/**
 * An upgrade (WebSocket or CONNECT) pipelined on a connection behind a request whose response
 * is still being written: Node hands the socket to the upgrade listener anyway. Giving it a
 * response object then threw ERR_HTTP_SOCKET_ASSIGNED out of the parser callback, an uncaught
 * exception that ended the whole Gatehouse process (one unauthenticated TLS packet: a denial of
 * service). The upgrade now waits for that response: it is handled in order after it, or
 * dropped with the connection when that response closes it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest } from '../support/raw-tls.ts';

const H = 'Host: localhost\r\n';
const WEBSOCKET = `GET /ws/x HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

describe('an upgrade pipelined behind a response in progress', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let upgrades = 0;

  before(async () => {
    // x-test-raw requests are answered after 200 ms: a response still in progress.
    app = await startUpstream((_req, res) => { setTimeout(() => res.writeHead(200, { 'content-length': '4' }).end('slow'), 200); });
    app.server.on('upgrade', (_req, socket) => { upgrades++; socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'); });
    gw = await startGateway({
      upstreams: { app: { url: app.url } },
      routes: [
        { id: 'ws', path: '/ws', upstream: 'app', access: 'public', websocket: true },
        { id: 'app', path: '/app', upstream: 'app', access: 'public' },
      ],
    });
  });
  after(async () => { await gw.close(); await app.close(); });

  const survive = async (payload: string) => {
    const res = await rawTlsRequest(gw.gateway.addresses().https.port, payload, 2000);
    const after = await gw.fetch('/app/still-serving');
    assert.equal(after.status, 200, 'the gateway keeps serving');
    return [...res.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
  };

  it('survives a WebSocket upgrade pipelined behind a refused request (denial of service): the refusal arrives, closes the connection, and no tunnel opens', async () => {
    const before = upgrades;
    assert.deepEqual(await survive(`GET /app/%2f HTTP/1.1\r\n${H}\r\n${WEBSOCKET}`), ['400']);
    assert.equal(upgrades, before, 'no upgrade reached the upstream');
  });

  it('survives a WebSocket upgrade pipelined behind a request waiting on its upstream (denial of service): answered in order, the switch after the first response', async () => {
    const before = upgrades;
    assert.deepEqual(await survive(`GET /app/slow HTTP/1.1\r\n${H}X-Test-Raw: 1\r\n\r\n${WEBSOCKET}`), ['200', '101']);
    assert.equal(upgrades, before + 1);
  });

  it('survives CONNECT pipelined behind a request waiting on its upstream (denial of service): answered in order, refused with 405', async () => {
    assert.deepEqual(await survive(`GET /app/slow HTTP/1.1\r\n${H}X-Test-Raw: 1\r\n\r\nCONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n`), ['200', '405']);
  });
});
