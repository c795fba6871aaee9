/**
 * Method overrides against a running gateway over real TLS. Frameworks behind it run the
 * method an override header or a `_method` query parameter names (Express's method-override,
 * Symfony and Laravel, Spring's HiddenHttpMethodFilter), so a route's method list, the TRACE
 * ban and every check by method must hold for that method too; and headers that CGI-style
 * servers (PHP, WSGI, Rack) read as the dashed header a stage judged must not reach them
 * under another spelling. Each test is named after the attack and the outcome.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';

describe('gateway against method overrides', () => {
  let gw: TestGateway;
  let app: TestUpstream;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({
      upstreams: { app: { url: app.url } },
      policy: { contextHeaders: ['x-tenant'] },
      routes: [
        { id: 'records', path: '/records', upstream: 'app', access: 'public', methods: ['GET', 'POST'] },
        { id: 'read-only', path: '/read-only', upstream: 'app', access: 'public', methods: ['GET', 'HEAD'] },
        { id: 'any', path: '/any', upstream: 'app', access: 'public' },
      ],
    });
  });
  after(async () => { await gw.close(); await app.close(); });

  async function refusedWith405(path: string, init: { method?: string; headers?: Record<string, string> }): Promise<void> {
    const before = app.received.length;
    const res = await gw.fetch(path, { method: init.method ?? 'POST', ...(init.headers ? { headers: init.headers } : {}) });
    assert.equal(res.status, 405, `${init.method ?? 'POST'} ${path} ${JSON.stringify(init.headers ?? {})}`);
    const body = JSON.parse(res.body) as { error: { code: string } };
    assert.equal(body.error.code, 'ERR_REQUEST_METHOD_NOT_ALLOWED');
    assert.equal(app.received.length, before, 'nothing reached the upstream');
  }

  it('refuses a POST naming DELETE in any override header on a GET/POST route with 405, forwarding nothing', async () => {
    for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
      await refusedWith405('/records/42', { headers: { [name]: 'DELETE' } });
      await refusedWith405('/records/42', { headers: { [name]: 'delete, POST' } });
    }
    const res = await gw.fetch('/records/42', { method: 'POST', headers: { 'x-http-method-override': 'DELETE' } });
    assert.equal(res.headers.allow, 'GET, POST');
  });

  it('refuses a GET naming DELETE on a read-only route (overrides honoured on any method, as Slim does) with 405', async () => {
    await refusedWith405('/read-only/1', { method: 'GET', headers: { 'x-http-method-override': 'DELETE' } });
  });

  it('refuses a POST naming DELETE in the _method query parameter, in every spelling PHP reads as _method, with 405', async () => {
    for (const query of ['_method=DELETE', '_METHOD=delete', '_method[]=DELETE', '.method=DELETE', '+_method=DELETE', '%20_method=DELETE', '_method%00x=DELETE', ' .method=DELETE'.replace(' ', '%20')]) {
      await refusedWith405(`/records/42?${query}`, {});
    }
  });

  it('refuses an override naming TRACE (the upstream would echo the identity assertion and credentials) with 405, also on a route that takes every method', async () => {
    await refusedWith405('/any/x', { headers: { 'x-http-method-override': 'TRACE' } });
    await refusedWith405('/any/x?_method=trace', {});
  });

  it('forwards a POST whose override names a method the route takes, override intact', async () => {
    const res = await gw.fetch('/records/42?_method=GET', { method: 'POST', headers: { 'x-http-method-override': 'GET' } });
    assert.equal(res.status, 200);
    const seen = app.received.at(-1)!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.headers['x-http-method-override'], 'GET');
    assert.equal(seen.url, '/records/42?_method=GET');
  });

  it('drops the underscore spellings of the override headers (which PHP reads as the override itself) before the upstream', async () => {
    const port = gw.gateway.addresses().https.port;
    const before = app.received.length;
    const res = await rawTlsRequest(port, 'POST /records/42 HTTP/1.1\r\nHost: localhost\r\nX_HTTP_METHOD_OVERRIDE: DELETE\r\nX-HTTP_Method-Override: DELETE\r\nx_method_override: DELETE\r\nX_HTTP_Method: DELETE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(res), 200);
    assert.equal(app.received.length, before + 1);
    const names = app.received.at(-1)!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase().replaceAll('_', '-'));
    for (const name of ['x-http-method-override', 'x-method-override', 'x-http-method']) assert.ok(!names.includes(name), `${name} in any spelling reached the upstream`);
  });

  it('drops the underscore spelling of a policy context header, so the upstream cannot read a value the policy did not see', async () => {
    const port = gw.gateway.addresses().https.port;
    const res = await rawTlsRequest(port, 'GET /records/1 HTTP/1.1\r\nHost: localhost\r\nX-Tenant: acme\r\nX_Tenant: evil\r\nX_Other: kept\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(res), 200);
    const seen = app.received.at(-1)!;
    assert.equal(seen.headers['x-tenant'], 'acme');
    assert.equal(seen.headers.x_tenant, undefined);
    assert.equal(seen.headers.x_other, 'kept', 'an underscore header nothing judged is forwarded');
  });

  it('drops X-Original-URL and X-Rewrite-URL (routing by another path than the one Gatehouse normalized and matched)', async () => {
    const res = await gw.fetch('/records/1', { headers: { 'x-original-url': '/admin/delete-all', 'x-rewrite-url': '/admin/delete-all' } });
    assert.equal(res.status, 200);
    const seen = app.received.at(-1)!;
    assert.equal(seen.headers['x-original-url'], undefined);
    assert.equal(seen.headers['x-rewrite-url'], undefined);
  });
});
