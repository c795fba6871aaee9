/**
 * Hop-by-hop fields of an upstream's response (RFC 9110 §7.6.1): those the upstream names in
 * Connection are meant for Gatehouse's connection to it and must not reach the client,
 * whichever way the upstream spells or splits its Connection field.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { rawTlsResponseHead } from '../support/raw-tls.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';

const CONNECTION: Record<string, string> = {
  one: 'Connection: Keep-Alive, X-Internal-Secret\r\n',
  split: 'Connection: keep-alive\r\nConnection: X-Internal-Secret\r\n',
};

let upstream: RawUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startRawUpstream((socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d;
      if (!head.includes('\r\n\r\n')) return;
      const kind = /^GET \/app\/(\w+) /.exec(head)?.[1] ?? 'one';
      head = '';
      socket.write(`HTTP/1.1 200 OK\r\n${CONNECTION[kind]}X-Internal-Secret: upstream-hop-secret\r\nContent-Length: 2\r\n\r\nok`);
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

for (const kind of Object.keys(CONNECTION)) {
  it(`a response field the upstream names in Connection (${kind === 'split' ? 'in a second Connection field' : 'in one Connection field'}) never reaches the client`, async () => {
    const head = await rawTlsResponseHead(gw.gateway.addresses().https.port, `GET /app/${kind} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(head, /x-internal-secret|upstream-hop-secret/i);
  });
}
