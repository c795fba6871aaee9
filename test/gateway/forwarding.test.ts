/** Forwarding behaviour over real sockets: bodies, headers, ids, trace context, failures. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';
import { startGateway, startUpstream, insecureAgent, type TestGateway, type TestUpstream } from '../support/gateway.ts';

describe('forwarding', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let slow: Server;
  let hanging: Server;
  let aborted: { count: number; closedEarly: number };
  let ws: Server;

  before(async () => {
    app = await startUpstream();
    aborted = { count: 0, closedEarly: 0 };
    slow = createServer((_req, res) => { setTimeout(() => res.end('late'), 3000).unref(); });
    // Reads the body slowly and records whether the gateway aborted it.
    hanging = createServer((req, res) => {
      aborted.count++;
      req.on('close', () => { if (!req.complete) aborted.closedEarly++; });
      req.resume();
      res.on('close', () => undefined);
    });
    ws = createServer();
    ws.on('upgrade', (req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
      void req;
    });
    for (const s of [slow, hanging, ws]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s: Server) => (s.address() as AddressInfo).port;
    gw = await startGateway({
      upstreams: {
        app: { url: app.url },
        prefixed: { url: `${app.url}/base` },
        slow: { url: `http://127.0.0.1:${port(slow)}` },
        hanging: { url: `http://127.0.0.1:${port(hanging)}` },
        down: { url: 'http://127.0.0.1:9' },
        ws: { url: `http://127.0.0.1:${port(ws)}` },
      },
      routes: [
        { id: 'app', path: '/app', upstream: 'app', access: 'public' },
        { id: 'stripped', path: '/strip', upstream: 'prefixed', stripPrefix: true, access: 'public' },
        { id: 'readonly', path: '/ro', upstream: 'app', methods: ['GET', 'HEAD'], access: 'public' },
        { id: 'slow', path: '/slow', upstream: 'slow', access: 'public', timeouts: { headersMs: 300 } },
        { id: 'hanging', path: '/hanging', upstream: 'hanging', access: 'public' },
        { id: 'down', path: '/down', upstream: 'down', access: 'public' },
        { id: 'ws', path: '/ws', upstream: 'ws', access: 'public', websocket: true },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await app.close();
    for (const s of [slow, hanging, ws]) { s.closeAllConnections(); s.close(); }
  });

  it('forwards method, normalized path and raw query, and returns the upstream response', async () => {
    const res = await gw.fetch('/app//a/./b/../c?x=1&y=%2F');
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.url, '/app/a/c?x=1&y=%2F');
    assert.equal(seen.method, 'GET');
  });

  it('streams a request body to the upstream unchanged', async () => {
    const body = Buffer.alloc(200_000, 'z').toString();
    const res = await gw.fetch('/app/upload', { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).body.length, 200_000);
  });

  it('strips the route prefix and prepends the upstream base path when asked', async () => {
    const res = await gw.fetch('/strip/items?q=1');
    assert.equal(JSON.parse(res.body).url, '/base/items?q=1');
  });

  it('returns a request id and propagates it with a W3C traceparent', async () => {
    const res = await gw.fetch('/app/t', { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    const seen = JSON.parse(res.body).headers;
    assert.ok(res.headers['x-request-id']);
    assert.equal(seen['x-request-id'], res.headers['x-request-id']);
    assert.match(seen.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(seen.traceparent.split('-')[2], '00f067aa0ba902b7', 'the gateway starts its own span');
  });

  it('starts a trace when the client sends none and ignores a malformed traceparent', async () => {
    const res = await gw.fetch('/app/t', { headers: { traceparent: 'ff-zz' } });
    const seen = JSON.parse(res.body).headers;
    assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  it('does not accept a request id from an untrusted client', async () => {
    const res = await gw.fetch('/app/t', { headers: { 'x-request-id': 'attacker-chosen-id-123' } });
    assert.notEqual(res.headers['x-request-id'], 'attacker-chosen-id-123');
  });

  it('removes hop-by-hop headers, including those named in Connection', async () => {
    const before = app.received.length;
    const res = await rawTlsRequest(gw.gateway.addresses().https.port,
      'GET /app/h HTTP/1.1\r\nHost: localhost\r\nConnection: close, x-secret-hop\r\nX-Secret-Hop: 1\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\n\r\n');
    assert.equal(statusOf(res), 200);
    assert.equal(app.received.length, before + 1);
    const seen = app.received.at(-1)!.headers;
    assert.equal(seen['x-secret-hop'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen['x-kept'], 'yes');
  });

  it('answers a method the route does not accept with 405 and Allow', async () => {
    const res = await gw.fetch('/ro/x', { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD');
  });

  it('answers 502 ERR_GATEWAY_UPSTREAM_UNAVAILABLE when the upstream refuses connections', async () => {
    const res = await gw.fetch('/down/x');
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE');
  });

  it('answers 504 ERR_GATEWAY_UPSTREAM_TIMEOUT when the upstream is too slow', async () => {
    const res = await gw.fetch('/slow/x');
    assert.equal(res.status, 504);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
  });

  it('aborts the upstream request when the client aborts mid-body', async () => {
    const port = gw.gateway.addresses().https.port;
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write('POST /hanging/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n' + 'a'.repeat(1000));
    const deadline = Date.now() + 3000;
    while (aborted.count === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(aborted.count, 1, 'upstream saw the request');
    socket.destroy();
    while (aborted.closedEarly === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(aborted.closedEarly, 1, 'upstream request was aborted when the client went away');
  });

  it('tunnels a WebSocket upgrade on a route that allows it', async () => {
    const port = gw.gateway.addresses().https.port;
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write('GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let data = '';
    socket.on('data', (d: Buffer) => { data += d.toString(); });
    const wait = async (re: RegExp) => { const end = Date.now() + 3000; while (!re.test(data) && Date.now() < end) await new Promise((r) => setTimeout(r, 20)); };
    await wait(/\r\n\r\n/);
    assert.match(data, /^HTTP\/1\.1 101/);
    socket.write('ping');
    await wait(/echo:ping/);
    assert.match(data, /echo:ping/);
    socket.destroy();
  });

  it('refuses a WebSocket upgrade on a route that does not allow it', async () => {
    const port = gw.gateway.addresses().https.port;
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write('GET /app/x HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    const data = await new Promise<string>((r) => { let d = ''; socket.on('data', (c: Buffer) => { d += c; }); socket.on('end', () => r(d)); setTimeout(() => r(d), 2000).unref(); });
    assert.match(data, /^HTTP\/1\.1 400/);
    socket.destroy();
  });

  it('writes exactly one access log line per request, including early exits', async () => {
    const ok = await gw.fetch('/app/ok');
    const missing = await gw.fetch('/missing');
    await new Promise((r) => setTimeout(r, 50));
    const linesFor = (res: { headers: Record<string, unknown> }) => gw.logs.lines.filter((l) => l.type === 'access' && l.requestId === res.headers['x-request-id']);
    assert.equal(linesFor(ok).length, 1);
    assert.equal(linesFor(ok)[0]!.status, 200);
    assert.equal(linesFor(ok)[0]!.route, 'app');
    assert.equal(linesFor(missing).length, 1);
    assert.equal(linesFor(missing)[0]!.status, 404);
    assert.equal(linesFor(missing)[0]!.code, 'ERR_GATEWAY_ROUTE_NOT_FOUND');
    assert.equal(linesFor(missing)[0]!.stage, 'route');
  });

  it('serves /healthz, /readyz and Prometheus /metrics on the ops listener only', async () => {
    const health = await request(`${gw.opsUrl}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    const ready = await request(`${gw.opsUrl}/readyz`);
    const report = await ready.body.json() as { ready: boolean; dependencies: object };
    assert.equal(ready.statusCode, 200);
    assert.equal(report.ready, true);
    const metrics = await (await request(`${gw.opsUrl}/metrics`)).body.text();
    assert.match(metrics, /gatehouse_http_requests_total\{route="app",method="GET",status="200"\} \d+/);
    assert.match(metrics, /gatehouse_http_request_duration_seconds_bucket/);
    const onPublic = await request(`${gw.url}/metrics`, { dispatcher: insecureAgent });
    assert.equal(onPublic.statusCode, 404);
    await onPublic.body.dump();
  });

  it('reports requests in flight on /metrics while they are held, and none once they ended', async () => {
    const inFlight = async (): Promise<number> => Number(/^gatehouse_http_requests_in_flight (\d+)$/m.exec(await (await request(`${gw.opsUrl}/metrics`)).body.text())?.[1]);
    const until = async (ok: (n: number) => boolean): Promise<number> => {
      const end = Date.now() + 3000;
      let n = await inFlight();
      while (!ok(n) && Date.now() < end) { await new Promise((r) => setTimeout(r, 20)); n = await inFlight(); }
      return n;
    };
    const abort = new AbortController();
    const held = request(`${gw.url}/hanging/x`, { dispatcher: insecureAgent, signal: abort.signal }).catch(() => undefined);
    assert.equal(await until((n) => n === 1), 1, 'the held request is in flight');
    abort.abort();
    await held;
    assert.equal(await until((n) => n === 0), 0, 'nothing in flight once the client went away');
  });
});
