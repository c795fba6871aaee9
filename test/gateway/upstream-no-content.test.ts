/**
 * RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204 (No Content) response.
 * Gatehouse is the server its clients see, so it does not pass on an upstream's field:
 * a strict client or a cache in front would otherwise judge the response malformed.
 * A 304 keeps it (there it states the selected representation's length, §8.6).
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { rawTlsResponseHead } from '../support/raw-tls.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';

let upstream: RawUpstream;
let gw: TestGateway;

/** Raw upstream: the status comes from the request path, every answer carries Content-Length: 0. */
before(async () => {
  upstream = await startRawUpstream((socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d;
      while (head.includes('\r\n\r\n')) {
        const request = head.slice(0, head.indexOf('\r\n\r\n'));
        head = head.slice(head.indexOf('\r\n\r\n') + 4);
        const status = /^\w+ \/app\/(\d{3})/.exec(request)?.[1] ?? '200';
        const reason = status === '204' ? 'No Content' : status === '304' ? 'Not Modified' : 'OK';
        socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nX-Upstream: yes\r\n\r\n`);
      }
    });
  });
  gw = await startGateway({
    upstreams: { app: { url: upstream.url } },
    routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
  });
});

after(async () => {
  upstream.close();
  await gw.close();
});

/** The raw response head the client receives. */
const responseHead = (path: string) => rawTlsResponseHead(gw.gateway.addresses().https.port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);

it('an upstream 204 with Content-Length reaches the client without it (RFC 9110 §8.6)', async () => {
  const head = await responseHead('/app/204');
  assert.match(head, /^HTTP\/1\.1 204 /);
  assert.match(head, /\r\nx-upstream: yes/i, 'the other upstream fields are passed on');
  assert.doesNotMatch(head, /\r\ncontent-length:/i);
});

it('an upstream 304 keeps its Content-Length, and a 200 its own', async () => {
  assert.match(await responseHead('/app/304'), /\r\ncontent-length: 0/i);
  assert.match(await responseHead('/app/200'), /\r\ncontent-length: 0/i);
});
