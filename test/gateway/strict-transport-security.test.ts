/**
 * Strict-Transport-Security on HTTPS responses (http/strict-transport-security.ts): without it
 * every `http://` visit goes through the plain redirect listener first, where a network
 * attacker can strip TLS. Proxied, error and internal responses carry it; an upstream cannot
 * switch it off; localhost and IP hosts never get it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { rawTlsResponseHead } from '../support/raw-tls.ts';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

let upstream: Server;
let upstreamUrl: string;

before(async () => {
  // The upstream tries to switch HSTS off for the whole host.
  upstream = createServer((_req, res) => res.writeHead(200, { 'strict-transport-security': 'max-age=0', 'content-length': '2' }).end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => upstream.close(() => r())));

const routes = () => ({
  upstreams: { app: { url: upstreamUrl } },
  routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' as const }],
});
const internalHandler = {
  name: 'test-internal',
  internalHandlers: () => [{ name: 'idp', prefixes: ['/idp/'], handle: (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200, { 'content-length': '2' }).end('hi'); } }],
};

const head = (gw: TestGateway, path: string, host: string) =>
  rawTlsResponseHead(gw.gateway.addresses().https.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
const hstsOf = (h: string) => h.match(/\r\nstrict-transport-security: ([^\r]*)/gi)?.map((l) => l.split(': ')[1]) ?? [];

describe('Strict-Transport-Security (default: on, one year)', () => {
  let gw: TestGateway;
  before(async () => { gw = await startGateway(routes(), { extensions: [internalHandler] }); });
  after(() => gw.close());

  it('a proxied response for a named host carries it', async () => {
    assert.deepEqual(hstsOf(await head(gw, '/app/x', 'mail.example.com')), ['max-age=31536000']);
  });

  it("an upstream's max-age=0 (switching HSTS off for the host) is replaced by the gateway's", async () => {
    const h = await head(gw, '/app/x', 'mail.example.com');
    assert.deepEqual(hstsOf(h), ['max-age=31536000'], h);
  });

  it('error responses (404 unknown path) and internal endpoints carry it too', async () => {
    const notFound = await head(gw, '/nowhere', 'mail.example.com');
    assert.match(notFound, /^HTTP\/1\.1 404 /);
    assert.deepEqual(hstsOf(notFound), ['max-age=31536000']);
    const internal = await head(gw, '/idp/x', 'mail.example.com');
    assert.match(internal, /^HTTP\/1\.1 200 /);
    assert.deepEqual(hstsOf(internal), ['max-age=31536000']);
  });

  it('localhost, *.localhost and IP hosts get none from Gatehouse (it would force HTTPS on every local port)', async () => {
    for (const host of ['localhost', 'app.localhost:8443', '127.0.0.1', '[::1]:8443']) {
      assert.deepEqual(hstsOf(await head(gw, '/nowhere', host)), [], host);
    }
    // The upstream's own field is passed on there: Gatehouse does not replace what it does not send.
    assert.deepEqual(hstsOf(await head(gw, '/app/x', 'localhost')), ['max-age=0']);
  });
});

describe('Strict-Transport-Security configured', () => {
  it('includeSubDomains and preload are added when configured', async () => {
    const gw = await startGateway({ ...routes(), listeners: { https: { host: '127.0.0.1', port: 0, hsts: { maxAgeSeconds: 63072000, includeSubDomains: true, preload: true } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } });
    try {
      assert.deepEqual(hstsOf(await head(gw, '/app/x', 'mail.example.com')), ['max-age=63072000; includeSubDomains; preload']);
    } finally { await gw.close(); }
  });

  it('switched off, Gatehouse adds none and passes the upstream\'s on', async () => {
    const gw = await startGateway({ ...routes(), listeners: { https: { host: '127.0.0.1', port: 0, hsts: { enabled: false } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } });
    try {
      assert.deepEqual(hstsOf(await head(gw, '/nowhere', 'mail.example.com')), []);
      assert.deepEqual(hstsOf(await head(gw, '/app/x', 'mail.example.com')), ['max-age=0']);
    } finally { await gw.close(); }
  });

  it('preload without includeSubDomains or a year of max-age is refused by path', () => {
    assert.throws(() => parseConfig({ listeners: { https: { hsts: { preload: true } } } }, { env: {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => p.path.join('.')), ['listeners.https.hsts.preload']);
      return true;
    });
  });
});
