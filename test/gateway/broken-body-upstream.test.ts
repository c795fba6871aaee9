/**
 * A request whose chunked body breaks under way (a malformed chunk size) is answered 400 by
 * the error path; the upstream request started for it must be aborted too. With the composed
 * gateway the error answer waits for its audit record (held until the turn's spool write), and
 * the abort, asked for before undici had started the request, was lost: the upstream kept the
 * connection open waiting for the rest of the body until the route's totalMs (120 s by
 * default), so a client could tie up upstream connections with a few bytes each. And the 400
 * of a request the parser fails under way says the connection closes, as it does; so does the 400
 * of bytes refused behind a complete request, sent after that request's own answer.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest, responsesOf, statusOf } from '../support/raw-tls.ts';

const openConnections = (app: TestUpstream): Promise<number> => new Promise((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

describe('requests broken under way: the upstream connection and the answer', () => {
  let gw: TestGateway;
  let app: TestUpstream;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    }, { compose: true });
  });
  after(async () => { app.server.closeAllConnections(); await gw.close(); await app.close(); });

  it('aborts the upstream request of a chunked body broken mid-way (malformed chunk size), leaving no upstream connection open (upstream connection exhaustion)', async () => {
    const port = gw.gateway.addresses().https.port;
    for (let i = 0; i < 5; i++) {
      const res = await rawTlsRequest(port, 'POST /app/upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ-not-a-chunk-size\r\n');
      assert.equal(statusOf(res), 400);
      assert.match(res, /\r\nconnection: close\r\n/i, 'the 400 says the connection closes (it does: the parser is done with it)');
    }
    // The upstream's side of an aborted request closes within a turn or two; give it a generous second.
    const deadline = Date.now() + 1000;
    while (await openConnections(app) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await openConnections(app), 0, 'upstream connections left waiting for the rest of a broken body');
    assert.equal(app.received.length, 0, 'no broken body reached the upstream as complete');
  });

  it('answers a request followed by bytes that fail the parser (pipelined garbage) with its own answer, then a 400 that says Connection: close, as the connection then closes', async () => {
    const port = gw.gateway.addresses().https.port;
    const { responses } = responsesOf(await rawTlsRequest(port, 'GET /app/x HTTP/1.1\r\nHost: localhost\r\n\r\n\x01garbage\r\n\r\n'));
    assert.deepEqual(responses.map((r) => r.status), [200, 400]);
    assert.equal(responses[1]!.headers.connection, 'close');
    assert.equal(responses[1]!.headers['keep-alive'], undefined);
  });
});
