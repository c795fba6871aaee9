/**
 * Request heads that two HTTP implementations could read differently, or that make an
 * upstream reflect what Gatehouse added, sent byte for byte over real TLS to a real gateway
 * in front of real upstreams.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';

describe('ambiguous or reflecting request heads', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let internal: TestUpstream;
  let port: number;

  before(async () => {
    app = await startUpstream();
    internal = await startUpstream();
    gw = await startGateway({
      upstreams: { app: { url: app.url }, internal: { url: internal.url } },
      routes: [
        { id: 'app', path: '/', upstream: 'app', access: 'public' },
        { id: 'internal', host: 'internal.example', path: '/', upstream: 'internal', access: 'public' },
      ],
    });
    port = gw.gateway.addresses().https.port;
  });
  after(async () => { await gw.close(); await app.close(); await internal.close(); });

  const reached = () => app.received.length + internal.received.length;

  for (const hosts of [['localhost', 'internal.example'], ['internal.example', 'localhost'], ['localhost', 'localhost']]) {
    it(`refuses two Host fields (${hosts.join(', ')}) with 400 ERR_REQUEST_HEADER_INVALID: a proxy in front may route on the other one`, async () => {
      const before = reached();
      const out = await rawTlsRequest(port, `GET /x HTTP/1.1\r\nHost: ${hosts[0]}\r\nHost: ${hosts[1]}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(out), 400, out);
      assert.match(out, /ERR_REQUEST_HEADER_INVALID/);
      assert.equal(reached(), before, 'no upstream was reached');
    });
  }

  for (const values of [['Bearer checked', 'Bearer unchecked'], ['Bearer same', 'Bearer same']]) {
    it(`refuses two Authorization fields (${values.join(', ')}) with 400 ERR_REQUEST_HEADER_INVALID: Gatehouse reads the first, an upstream may read the last (credential confusion)`, async () => {
      const before = reached();
      const out = await rawTlsRequest(port, `GET /x HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${values[0]}\r\nauthorization: ${values[1]}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(out), 400, out);
      assert.match(out, /ERR_REQUEST_HEADER_INVALID/);
      assert.equal(reached(), before, 'no upstream was reached');
    });
  }

  it('refuses TRACE with 405 ERR_REQUEST_METHOD_NOT_ALLOWED: an upstream that echoes it would hand the client what Gatehouse added (identity assertion, cookies) (cross-site tracing)', async () => {
    const before = reached();
    const out = await rawTlsRequest(port, 'TRACE /x HTTP/1.1\r\nHost: localhost\r\nCookie: session=secret\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(out), 405, out);
    assert.match(out, /ERR_REQUEST_METHOD_NOT_ALLOWED/);
    assert.doesNotMatch(out, /secret/);
    assert.equal(reached(), before, 'no upstream was reached');
  });

  it('still routes one Host field by its name', async () => {
    const out = await rawTlsRequest(port, 'GET /x HTTP/1.1\r\nHost: internal.example\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(out), 200, out);
    assert.equal(internal.received.at(-1)!.headers['x-forwarded-host'], 'internal.example');
  });
});
