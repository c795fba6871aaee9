/**
 * `Expect: 100-continue` over real TLS: the client sends its headers and waits. The 100 is a
 * promise to read the body, so it may only go out once the request is on its way to the
 * upstream. Node answers it by itself unless told otherwise, before any stage ran: an
 * unauthenticated client or one over the body limit was invited to upload the whole body,
 * only to be refused after it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { statusOf } from '../support/raw-tls.ts';

interface Exchange { socket: TLSSocket; waitFor(re: RegExp, ms?: number): Promise<string>; closed(ms?: number): Promise<boolean> }

/** Opens a TLS connection, sends `head` and collects everything that comes back. */
async function send(port: number, head: string): Promise<Exchange> {
  const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
  let data = '';
  let ended = false;
  socket.on('data', (d: Buffer) => { data += d.toString('latin1'); });
  socket.on('error', () => undefined);
  socket.once('close', () => { ended = true; });
  await new Promise<void>((r) => socket.once('secureConnect', () => r()));
  socket.write(head);
  const until = async (done: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  };
  return {
    socket,
    async waitFor(re, ms = 2000) { await until(() => re.test(data) || ended, ms); return data; },
    async closed(ms = 1000) { await until(() => ended, ms); return ended; },
  };
}

describe('Expect: 100-continue', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let admin: TestUpstream;
  let port: number;

  before(async () => {
    app = await startUpstream();
    admin = await startUpstream();
    gw = await startGateway({
      limits: { maxBodyBytes: 1024 },
      upstreams: { app: { url: app.url }, admin: { url: admin.url } },
      routes: [
        { id: 'app', path: '/app', upstream: 'app', access: 'public' },
        { id: 'admin', path: '/admin', upstream: 'admin', access: 'authenticated' },
      ],
    }, {
      // One of Gatehouse's own endpoints that reads a request body, as the token endpoint does.
      extensions: [{
        name: 'test-internal',
        internalHandlers: () => [{
          name: 'echo',
          prefixes: ['/_internal/'],
          handle: (req, res) => {
            const chunks: Buffer[] = [];
            req.on('data', (c: Buffer) => chunks.push(c));
            req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end(`got:${Buffer.concat(chunks).toString()}`));
          },
        }],
      }],
    });
    port = gw.gateway.addresses().https.port;
  });
  after(async () => { await gw.close(); await app.close(); await admin.close(); });

  it('refuses a declared body over the route limit with 413 without first inviting it with 100 Continue, and closes the connection', async () => {
    const x = await send(port, 'POST /app/upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n');
    const out = await x.waitFor(/\r\n\r\n\{.*\}\n/s);
    assert.equal(statusOf(out), 413, out);
    assert.doesNotMatch(out, /100 Continue/);
    assert.match(out, /ERR_REQUEST_BODY_TOO_LARGE/);
    // The unread body must never be read as the next request: the connection is closed.
    x.socket.write('GET /admin/x HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(await x.closed(), true, 'the connection was closed after the refusal');
    assert.equal(admin.received.length, 0);
    x.socket.destroy();
  });

  it('refuses an unauthenticated upload with 401 without inviting its body with 100 Continue', async () => {
    const x = await send(port, 'POST /admin/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n');
    const out = await x.waitFor(/\r\n\r\n\{.*\}\n/s);
    assert.equal(statusOf(out), 401, out);
    assert.doesNotMatch(out, /100 Continue/);
    x.socket.destroy();
  });

  it('answers an expectation other than 100-continue with 417 ERR_REQUEST_EXPECTATION_FAILED, a request id and an access line, forwarding nothing', async () => {
    const before = app.received.length;
    const x = await send(port, 'POST /app/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\nhello');
    const out = await x.waitFor(/\r\n\r\n\{.*\}\n/s);
    assert.equal(statusOf(out), 417, out);
    assert.match(out, /ERR_REQUEST_EXPECTATION_FAILED/);
    const requestId = /x-request-id: ([^\r]+)/i.exec(out)?.[1];
    assert.ok(requestId, 'the refusal carries a request id');
    const line = gw.logs.lines.find((l) => l.type === 'access' && l.requestId === requestId);
    assert.equal(line?.status, 417, 'the refusal has its access line');
    assert.equal(app.received.length, before);
    x.socket.destroy();
  });

  it('answers 100 Continue once the request may go upstream, then forwards the body', async () => {
    const before = app.received.length;
    const x = await send(port, 'POST /app/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    assert.match(await x.waitFor(/100 Continue\r\n\r\n/), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    x.socket.write('hello');
    const out = await x.waitFor(/\r\n0\r\n\r\n$/);
    assert.match(out, /HTTP\/1\.1 200 OK/);
    assert.equal(app.received.length, before + 1);
    assert.equal(app.received.at(-1)!.body, 'hello');
    assert.equal(app.received.at(-1)!.headers.expect, undefined, 'Expect is hop-by-hop: the gateway answered it');
    x.socket.destroy();
  });

  it("answers 100 Continue for one of Gatehouse's own endpoints, whose handler reads the body", async () => {
    const x = await send(port, 'POST /_internal/token HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    assert.match(await x.waitFor(/100 Continue\r\n\r\n/), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    x.socket.write('hello');
    assert.match(await x.waitFor(/got:hello/), /HTTP\/1\.1 200 OK[\s\S]*got:hello/);
    x.socket.destroy();
  });
});
