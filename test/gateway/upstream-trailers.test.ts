/**
 * Response trailers (upstream/trailers.ts): the fields an upstream announces in `Trailer`
 * and sends after a chunked body reach an HTTP/1.1 client; fields a trailer must not carry
 * (cookies, framing, Gatehouse's reserved namespace) and unannounced ones do not — a trailer
 * section is a second header section and must not get past the header filters.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';

let upstream: RawUpstream;
let gw: TestGateway;

const TRAILERS = 'X-Checksum: sha256=abc\r\nServer-Timing: db;dur=53\r\nSet-Cookie: gatehouse_session=planted\r\n'
  + 'X-Gatehouse-Identity: forged\r\nX-Late: surprise\r\n';
// Content-Length is announced but not sent: undici refuses it in a trailer section outright.
const ANNOUNCED = 'Trailer: X-Checksum, Server-Timing, Set-Cookie, X-Gatehouse-Identity, Content-Length\r\n';

/** Raw upstream: the request path picks the answer. */
before(async () => {
  upstream = await startRawUpstream((socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d;
      while (head.includes('\r\n\r\n')) {
        const request = head.slice(0, head.indexOf('\r\n\r\n'));
        head = head.slice(head.indexOf('\r\n\r\n') + 4);
        if (request.startsWith('GET /app/fixed')) {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n${ANNOUNCED}\r\nhello`);
        } else if (request.startsWith('GET /app/unannounced')) {
          socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: sha256=abc\r\n\r\n`);
        } else {
          socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n${ANNOUNCED}\r\n5\r\nhello\r\n0\r\n${TRAILERS}\r\n`);
        }
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

const fetchRaw = (path: string, version = '1.1') => rawTlsRequest(gw.gateway.addresses().https.port,
  `GET ${path} HTTP/${version}\r\nHost: localhost\r\nTE: trailers\r\nConnection: close\r\n\r\n`);

/** The trailer section of a chunked response: what follows the last chunk. */
function trailerSection(response: string): string {
  const end = response.lastIndexOf('\r\n0\r\n');
  assert.ok(end > 0, `a chunked body ending in a last chunk: ${JSON.stringify(response)}`);
  return response.slice(end + 5);
}

it('trailers the upstream announced reach an HTTP/1.1 client, announced in Trailer', async () => {
  const response = await fetchRaw('/app/chunked');
  assert.equal(statusOf(response), 200);
  const head = response.slice(0, response.indexOf('\r\n\r\n'));
  assert.match(head, /\r\ntrailer: x-checksum, server-timing\r\n/i);
  const trailers = trailerSection(response);
  assert.match(trailers, /x-checksum: sha256=abc\r\n/i);
  assert.match(trailers, /server-timing: db;dur=53\r\n/i);
  assert.ok(response.includes('hello'));
});

it('cookie planting, a forged identity field and framing through upstream trailers are dropped', async () => {
  const response = await fetchRaw('/app/chunked');
  const trailers = trailerSection(response);
  assert.doesNotMatch(response, /gatehouse_session=planted/);
  assert.doesNotMatch(response, /x-gatehouse-identity/i);
  assert.doesNotMatch(trailers, /content-length/i);
  assert.doesNotMatch(response.slice(0, response.indexOf('\r\n\r\n')), /trailer:.*(set-cookie|content-length|x-gatehouse)/i);
});

it('a trailer field the upstream did not announce is dropped', async () => {
  assert.doesNotMatch(await fetchRaw('/app/chunked'), /x-late/i);
  const response = await fetchRaw('/app/unannounced');
  assert.equal(statusOf(response), 200);
  assert.doesNotMatch(response, /x-checksum/i);
});

it('an HTTP/1.0 client gets the body without trailers or a Trailer field (no chunked coding)', async () => {
  const response = await fetchRaw('/app/chunked', '1.0');
  assert.match(response, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(response, /trailer:|x-checksum/i);
  assert.ok(response.endsWith('hello'));
});

it('a Trailer field on a response with Content-Length is not passed on (no trailer can follow)', async () => {
  const response = await fetchRaw('/app/fixed');
  assert.equal(statusOf(response), 200);
  assert.doesNotMatch(response, /\r\ntrailer:/i);
  assert.ok(response.endsWith('hello'));
});
