/**
 * Hostile inputs against a running gateway over real TLS: each test is named after the
 * attack and the outcome it must have.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';

describe('gateway against hostile requests', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let admin: TestUpstream;

  before(async () => {
    app = await startUpstream();
    admin = await startUpstream();
    gw = await startGateway({
      limits: { maxHeaderBytes: 8192, maxBodyBytes: 1024 },
      upstreams: { app: { url: app.url }, admin: { url: admin.url } },
      routes: [
        { id: 'app', path: '/app', upstream: 'app', access: 'public' },
        { id: 'admin', path: '/admin', upstream: 'admin', access: 'authenticated' },
        { id: 'host-only', host: 'internal.example', path: '/', upstream: 'admin', access: 'public' },
      ],
    });
  });
  after(async () => { await gw.close(); await app.close(); await admin.close(); });

  it('overwrites a spoofed X-Forwarded-For from an untrusted peer', async () => {
    const res = await gw.fetch('/app/x', { headers: { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6' } });
    assert.equal(res.status, 200);
    const seen = app.received.at(-1)!;
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.doesNotMatch(String(seen.headers.forwarded), /6\.6\.6\.6/);
    assert.equal(seen.headers['x-real-ip'], undefined);
  });

  it('never lets a client-sent reserved identity header reach the upstream', async () => {
    await gw.fetch('/app/x', { headers: { 'x-gatehouse-identity': 'forged', 'X-Gatehouse-Subject': 'admin' } });
    const seen = app.received.at(-1)!;
    assert.equal(seen.headers['x-gatehouse-identity'], undefined);
    assert.equal(seen.headers['x-gatehouse-subject'], undefined);
  });

  it('refuses CRLF injected into a header value with 400', async () => {
    const before = app.received.length;
    const res = await rawTlsRequest(gw.gateway.addresses().https.port, 'GET /app/x HTTP/1.1\r\nHost: localhost\r\nX-A: a\rInjected: b\r\n\r\n');
    assert.equal(statusOf(res), 400);
    assert.equal(app.received.length, before);
  });

  it('refuses Content-Length together with Transfer-Encoding (request smuggling) with 400', async () => {
    const before = app.received.length;
    const res = await rawTlsRequest(gw.gateway.addresses().https.port,
      'POST /app/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(statusOf(res), 400);
    assert.equal(admin.received.length, 0);
    assert.equal(app.received.length, before);
  });

  it('refuses Transfer-Encoding in an HTTP/1.0 request (request smuggling: HTTP/1.0 has no chunked framing) with 400, forwarding nothing', async () => {
    const before = app.received.length;
    const res = await rawTlsRequest(gw.gateway.addresses().https.port,
      'POST /app/x HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(statusOf(res), 400);
    assert.match(res, /ERR_REQUEST_SMUGGLING/);
    assert.equal(app.received.length, before);
    assert.equal(admin.received.length, 0);
  });

  it('answers CONNECT (a forward-proxy tunnel to a host the client names) with 405 and an access line, opening no tunnel', async () => {
    const before = app.received.length;
    const res = await rawTlsRequest(gw.gateway.addresses().https.port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    assert.equal(statusOf(res), 405);
    assert.match(res, /ERR_REQUEST_METHOD_NOT_ALLOWED/);
    const requestId = /x-request-id: ([^\r]+)/i.exec(res)?.[1];
    assert.ok(requestId, 'the refusal carries a request id');
    const line = gw.logs.lines.find((l) => l.type === 'access' && l.requestId === requestId);
    assert.ok(line, 'the CONNECT has its access line');
    assert.equal(line.status, 405);
    assert.equal(app.received.length, before);
  });

  it('refuses duplicate Content-Length headers (request smuggling) with 400', async () => {
    const res = await rawTlsRequest(gw.gateway.addresses().https.port,
      'POST /app/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello');
    assert.equal(statusOf(res), 400);
    assert.match(res, /ERR_REQUEST_SMUGGLING|ERR_REQUEST_MALFORMED/);
  });

  // Once Gatehouse has found a request's framing ambiguous, it cannot know where the next
  // request on that connection starts: a front proxy may have read the bytes differently.
  for (const [name, head] of [
    ['duplicate Content-Length', 'POST /app/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'],
    ['Transfer-Encoding in HTTP/1.0', 'POST /app/x HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ]) {
    it(`forwards nothing that follows a request refused for ambiguous framing (${name}) on the same connection, and closes it (request smuggling)`, async () => {
      const before = app.received.length;
      const res = await rawTlsRequest(gw.gateway.addresses().https.port, head + 'GET /app/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal(statusOf(res), 400, res);
      assert.match(res, /ERR_REQUEST_SMUGGLING/);
      assert.match(res, /\r\nconnection: close\r\n/i);
      assert.equal(res.match(/HTTP\/1\.1 /g)!.length, 1, `one response only: ${res}`);
      assert.equal(app.received.length, before, `nothing reached the upstream: ${app.received.slice(before).map((r) => r.url).join(', ')}`);
    });
  }

  // The admin route requires authentication. An encoded traversal must either be refused or
  // be routed by the path it normalizes to (and so meet the admin route's rules): it must
  // never be treated as /app (public) while the upstream sees /admin.
  for (const path of ['/app/%2e%2e/admin', '/app/%2E%2E/admin', '/app/..%2fadmin', '/app/%2fadmin', '/app/..;/admin', '/app/..\\admin', '/app/%5c..%5cadmin', '/app/%c0%ae%c0%ae/admin', '/app/.%2e/admin', '/app/%252e%252e/admin']) {
    it(`cannot bypass the admin route's access rules through encoded traversal ${path}`, async () => {
      const appBefore = app.received.length;
      const res = await rawTlsRequest(gw.gateway.addresses().https.port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      const status = statusOf(res);
      assert.equal(admin.received.length, 0, `admin upstream was reached via ${path} (status ${status})`);
      assert.ok([400, 401].includes(status) || (status === 200 && app.received.at(-1)!.url.startsWith('/app/')), `unexpected status ${status} for ${path}`);
      if (status === 200) assert.equal(app.received.length, appBefore + 1);
    });
  }

  it('routes /app/%2e%2e/admin as /admin, so the admin route\'s authentication applies', async () => {
    const res = await rawTlsRequest(gw.gateway.addresses().https.port, 'GET /app/%2e%2e/admin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(res), 401);
    assert.match(res, /ERR_AUTHN_REQUIRED/);
  });

  for (const host of ['evil.example@localhost', 'a.example,b.example', '"quoted"', 'localhost/path']) {
    it(`refuses a malformed Host header (${host}) with 400 before routing`, async () => {
      const res = await rawTlsRequest(gw.gateway.addresses().https.port, `GET /app/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(res), 400);
    });
  }

  it('answers oversized headers with 431', async () => {
    const res = await gw.fetch('/app/x', { headers: { 'x-big': 'a'.repeat(10_000) } });
    assert.equal(res.status, 431);
  });

  it('answers too many header fields with 431', async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 150; i++) headers[`x-h${i}`] = 'v';
    const res = await gw.fetch('/app/x', { headers });
    assert.equal(res.status, 431);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_REQUEST_HEADERS_TOO_LARGE');
  });

  it('answers an oversized declared body with 413 without reaching the upstream', async () => {
    const before = app.received.length;
    const res = await gw.fetch('/app/upload', { method: 'POST', body: 'x'.repeat(2048) });
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_REQUEST_BODY_TOO_LARGE');
    assert.equal(app.received.length, before);
  });

  it('answers an oversized chunked body with 413', async () => {
    const chunk = 'x'.repeat(600);
    const body = `${(600).toString(16)}\r\n${chunk}\r\n${(600).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    const res = await rawTlsRequest(gw.gateway.addresses().https.port, `POST /app/upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    assert.equal(statusOf(res), 413);
  });

  it('answers an unknown host with 404 before any other work', async () => {
    const res = await gw.fetch('/', { headers: { host: 'unknown.example' } });
    // '/' has no catch-all route for unknown hosts.
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_GATEWAY_ROUTE_NOT_FOUND');
  });

  it('answers an unknown path with 404 and a request id', async () => {
    const res = await gw.fetch('/nothing-here');
    assert.equal(res.status, 404);
    const body = JSON.parse(res.body);
    assert.equal(body.error.code, 'ERR_GATEWAY_ROUTE_NOT_FOUND');
    assert.equal(body.error.requestId, res.headers['x-request-id']);
  });

  it('routes by host: the host-only route is reachable only with its host name', async () => {
    const res = await gw.fetch('/x', { headers: { host: 'INTERNAL.example.' } });
    assert.equal(res.status, 200);
    assert.equal(admin.received.at(-1)!.url, '/x');
    admin.received.length = 0;
  });

  it('does not let a path prefix match inside a segment (/appx is not /app)', async () => {
    const res = await gw.fetch('/appx');
    assert.equal(res.status, 404);
  });

  it('renders errors as HTML for browsers without leaking internal detail', async () => {
    const res = await gw.fetch('/nothing-here', { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(res.status, 404);
    assert.match(String(res.headers['content-type']), /text\/html/);
    assert.match(res.body, /ERR_GATEWAY_ROUTE_NOT_FOUND/);
    assert.doesNotMatch(res.body, /no route for host/);
  });
});
