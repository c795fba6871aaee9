/**
 * Credential isolation, response side (docs/credential-isolation.md "Responses"): an upstream
 * that reflects the credential the gateway presented (a debug echo of request headers, a
 * redirect that carries the key in its query, a trailer, a WebSocket handshake) must not hand
 * it to the client. Real gateway over real TLS, real upstream that reflects what it received.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { request } from 'undici';
import { insecureAgent, startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const SECRET = 'legacy-key-5c81e0b7a2f94d3e';

describe('an upstream that reflects its gateway-held credential does not hand it to the client', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const key = String(req.headers['x-api-key'] ?? '');
      if (req.url === '/legacy/redirect') {
        res.writeHead(302, { location: `https://legacy.internal/next?api_key=${key}` }).end();
        return;
      }
      if (req.url === '/legacy/trailer') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-debug-key' });
        res.write('body');
        res.addTrailers({ 'x-debug-key': key });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-api-key': key, 'X-Debug-Request': `x-api-key=${key}; path=${req.url}`, 'x-kept': 'ordinary' }).end('ok');
    });
    upstream.server.on('upgrade', (req, socket) => {
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: x\r\nx-api-key: ${String(req.headers['x-api-key'])}\r\nx-echo: key ${String(req.headers['x-api-key'])}\r\n\r\n`);
    });
    gw = await startGateway({
      upstreams: { legacy: { url: upstream.url, credentials: { headers: { 'x-api-key': SECRET } } } },
      routes: [{ id: 'legacy', path: '/legacy', upstream: 'legacy', access: 'public', websocket: true }],
    });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const get = async (path: string) => {
    const res = await request(gw.url + path, { dispatcher: insecureAgent, headers: { te: 'trailers' } });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, trailers: res.trailers, body };
  };

  it('response headers that echo the credential (same name, or quoting it) are removed; the others pass', async () => {
    const r = await get('/legacy/echo');
    assert.equal(r.status, 200, r.body);
    assert.equal(upstream.received.at(-1)!.headers['x-api-key'], SECRET, 'the upstream did get it');
    assert.ok(!JSON.stringify(r.headers).includes(SECRET), JSON.stringify(r.headers));
    assert.equal(r.headers['x-api-key'], undefined);
    assert.equal(r.headers['x-debug-request'], undefined);
    assert.equal(r.headers['x-kept'], 'ordinary');
  });

  it('a redirect from the upstream whose Location carries the credential does not reach the client with it', async () => {
    const r = await get('/legacy/redirect');
    assert.equal(r.status, 302);
    assert.ok(!JSON.stringify(r.headers).includes(SECRET), JSON.stringify(r.headers));
  });

  it('a trailer that echoes the credential is dropped', async () => {
    const r = await get('/legacy/trailer');
    assert.equal(r.body, 'body');
    assert.ok(!JSON.stringify(r.trailers).includes(SECRET), JSON.stringify(r.trailers));
  });

  it('the WebSocket handshake answer (101) of the upstream does not carry the credential to the client', async () => {
    const port = Number(new URL(gw.url).port);
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
        socket.write('GET /legacy/ws HTTP/1.1\r\nhost: localhost\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      });
      let data = '';
      socket.on('data', (c: Buffer) => { data += c.toString('latin1'); if (data.includes('\r\n\r\n')) { socket.destroy(); resolve(data); } });
      socket.on('error', reject);
      socket.on('close', () => resolve(data));
    });
    assert.match(head, /^HTTP\/1\.1 101/, head);
    assert.ok(!head.includes(SECRET), head);
  });
});
