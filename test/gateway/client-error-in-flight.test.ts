/**
 * The HTTP parser fails inside the body of a request the gateway is already handling (a
 * broken chunk size after valid chunks): the failure belongs to that request. Real TLS
 * client, real gateway, real upstreams.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/**
 * Sends the request head and a valid first chunk, waits until `sendGarbageWhen` says so
 * (or 300 ms), then sends a line that is not a chunk size; returns all the client received.
 */
function brokenChunkedUpload(port: number, path: string, sendGarbageWhen: (received: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    let received = '';
    let sent = false;
    const garbage = () => { if (!sent) { sent = true; socket.write('ZZ-not-a-chunk-size\r\n'); } };
    socket.once('secureConnect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`);
      setTimeout(garbage, 300);
    });
    socket.on('data', (d: Buffer) => { received += d.toString('latin1'); if (sendGarbageWhen(received)) garbage(); });
    socket.on('close', () => resolve(received));
    socket.on('error', () => undefined);
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('a malformed body on a request already being handled', () => {
  let gw: TestGateway;
  let streaming: Server;
  let reading: Server;

  before(async () => {
    // Answers at once and streams its body, without waiting for the request body.
    streaming = createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain' }); res.write('part-1;'); setTimeout(() => res.end('part-2'), 1000); });
    // Answers only after the whole request body.
    reading = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end('read')); });
    gw = await startGateway({
      upstreams: { streaming: { url: await listen(streaming) }, reading: { url: await listen(reading) } },
      routes: [
        { id: 'streaming', path: '/streaming', upstream: 'streaming', access: 'public' },
        { id: 'reading', path: '/reading', upstream: 'reading', access: 'public' },
      ],
    });
  });
  after(async () => {
    await gw.close();
    streaming.closeAllConnections();
    streaming.close();
    reading.closeAllConnections();
    reading.close();
  });

  const accessLines = (from: number) => gw.logs.lines.slice(from).filter((l) => l.type === 'access');
  const noneSeries = async () => (await (await request(`${gw.opsUrl}/metrics`)).body.text()).split('\n').filter((l) => l.startsWith('gatehouse_http_requests_total{route="none"'));

  it('after the response started streaming: no second HTTP response is written into the body, and the request is recorded once with ERR_REQUEST_MALFORMED', async () => {
    const from = gw.logs.lines.length;
    const received = await brokenChunkedUpload(gw.gateway.addresses().https.port, '/streaming/up', (r) => r.includes('part-1;'));
    await new Promise((r) => setTimeout(r, 100));
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.equal(received.match(/HTTP\/1\.1 /g)?.length, 1, `a second status line inside the streamed body:\n${received}`);
    const lines = accessLines(from);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0]!.route, lines[0]!.status, lines[0]!.code], ['streaming', 200, 'ERR_REQUEST_MALFORMED']);
    assert.match(String(lines[0]!.detail), /HPE_INVALID_CHUNK_SIZE/);
    assert.deepEqual(await noneSeries(), []);
  });

  it('a client that hangs up in the middle of its upload: one access line, the request cut short (499), nothing counted under route none', async () => {
    const from = gw.logs.lines.length;
    await new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false, servername: 'localhost' });
      socket.once('secureConnect', () => {
        socket.write('POST /reading/up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
        setTimeout(() => socket.end(), 200);
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
      socket.resume();
    });
    await new Promise((r) => setTimeout(r, 150));
    const lines = accessLines(from);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0]!.route, lines[0]!.status, lines[0]!.aborted], ['reading', 499, true]);
    assert.deepEqual(await noneSeries(), []);
  });

  it('before the response started: one 400 carrying the request\'s own id, and one access line for it', async () => {
    const from = gw.logs.lines.length;
    const received = await brokenChunkedUpload(gw.gateway.addresses().https.port, '/reading/up', () => false);
    await new Promise((r) => setTimeout(r, 100));
    assert.match(received, /^HTTP\/1\.1 400 /);
    assert.equal(received.match(/HTTP\/1\.1 /g)?.length, 1, received);
    const lines = accessLines(from);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0]!.route, lines[0]!.status, lines[0]!.code], ['reading', 400, 'ERR_REQUEST_MALFORMED']);
    assert.match(received, new RegExp(`x-request-id: ${String(lines[0]!.requestId)}\\r\\n`, 'i'));
    assert.deepEqual(await noneSeries(), []);
  });
});
