/**
 * RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204 (No Content) response.
 * Gatehouse is the server its clients see, so it does not pass on an upstream's field:
 * a strict client or a cache in front would otherwise judge the response malformed.
 * A 304 keeps it (there it states the selected representation's length, §8.6).
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startGateway, type TestGateway } from '../support/gateway.ts';

let upstream: Server;
const sockets = new Set<Socket>();
let gw: TestGateway;

/** Raw upstream: the status comes from the request path, every answer carries Content-Length: 0. */
before(async () => {
  upstream = createServer((socket) => {
    sockets.add(socket);
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
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  gw = await startGateway({
    upstreams: { app: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } },
    routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
  });
});

after(async () => {
  for (const s of sockets) s.destroy();
  upstream.close();
  await gw.close();
});

/** The raw response head the client receives. */
async function responseHead(path: string): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
  try {
    await new Promise<void>((r, j) => { socket.once('secureConnect', () => r()); socket.once('error', j); });
    let data = '';
    socket.on('data', (d: Buffer) => { data += d; });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    const until = Date.now() + 3000;
    while (!data.includes('\r\n\r\n') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return data.slice(0, data.indexOf('\r\n\r\n'));
  } finally {
    socket.destroy();
  }
}

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
