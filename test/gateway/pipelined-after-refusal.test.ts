/**
 * Requests a client pipelines behind one Gatehouse refuses with `Connection: close`: Node's
 * parser still emits them, but their answers are never sent, and after a framing refusal their
 * bytes are where a front proxy and Gatehouse may disagree (request smuggling). None of them
 * may reach an upstream: neither with the bare gateway nor with the audit log, which holds the
 * refusal's answer (and with it the `Connection: close` of its head) until its record is spooled,
 * while the parser emits the requests behind it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';

const H = 'Host: localhost\r\n';

for (const composed of [false, true]) describe(`requests pipelined behind a refused one (${composed ? 'with the audit log holding answers' : 'bare gateway'})`, () => {
  let gw: TestGateway;
  let app: TestUpstream;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
      ...(composed ? { audit: { fsync: false } } : {}),
    }, { compose: composed });
  });
  after(async () => { await gw.close(); await app.close(); });

  for (const [name, head, code] of [
    // Node accepts this coding list (chunked last) and Gatehouse refuses it: a front proxy may
    // have read the body differently, so what follows is not known to be a request of this client.
    ['Transfer-Encoding: gzip, chunked (request smuggling)', `POST /app/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 'ERR_REQUEST_SMUGGLING'],
    ['two Host fields', `GET /app/x HTTP/1.1\r\n${H}${H}\r\n`, 'ERR_REQUEST_HEADER_INVALID'],
    ['an encoded slash in the path', `GET /app/%2fx HTTP/1.1\r\n${H}\r\n`, 'ERR_REQUEST_PATH_INVALID'],
  ]) {
    it(`forwards nothing pipelined behind a request refused for ${name}, answers once and closes`, async () => {
      const before = app.received.length;
      const res = await rawTlsRequest(gw.gateway.addresses().https.port, `${head}GET /app/smuggled HTTP/1.1\r\n${H}\r\nPOST /app/smuggled-post HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`);
      assert.equal(statusOf(res), 400, res);
      assert.match(res, new RegExp(code!));
      assert.match(res, /\r\nconnection: close\r\n/i);
      assert.equal(res.match(/HTTP\/1\.1 /g)!.length, 1, `one response only: ${res}`);
      // The upstream request would arrive after the refusal went out: give it time to.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(app.received.slice(before).map((r) => r.url), [], 'nothing reached the upstream');
    });
  }

  it('still answers ordinary pipelined requests in order on a kept-alive connection', async () => {
    const res = await rawTlsRequest(gw.gateway.addresses().https.port,
      `GET /app/one HTTP/1.1\r\n${H}\r\nGET /app/two HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    assert.deepEqual([...res.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]), ['200', '200']);
    assert.ok(res.indexOf('"/app/one"') < res.indexOf('"/app/two"'), res);
  });
});
