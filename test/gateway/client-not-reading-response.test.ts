/**
 * A client that asks for a large streamed response and then stops reading (a slow-read
 * attack) makes the gateway pause the upstream (backpressure). routes[].timeouts.totalMs
 * bounds that: the exchange is cut at the total time and the upstream connection released,
 * instead of both staying open for as long as the client likes. limits.sendTimeoutMs cuts such a
 * client sooner: once it has left Gatehouse's bytes unread that long.
 */
import { it } from 'node:test';
import type { TestGateway } from '../support/gateway.ts';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startGateway } from '../support/gateway.ts';

// Far more than the kernel buffers between upstream, gateway and client take together (a few MiB on loopback).
const BODY_MIB = 64;
const TOTAL_MS = 1500;

it('a client that stops reading a large streamed response is cut at totalMs and the upstream connection is released', async () => {
  let upstreamClosedAt = -1;
  let upstreamFinished = false;
  const started = Date.now();
  const up = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(BODY_MIB * 1024 * 1024) });
    const chunk = Buffer.alloc(64 * 1024, 97);
    let left = BODY_MIB * 16;
    const pump = () => { while (left > 0) { left--; if (!res.write(chunk)) { res.once('drain', pump); return; } } res.end(); };
    pump();
    res.on('finish', () => { upstreamFinished = true; });
    res.on('close', () => { upstreamClosedAt = Date.now() - started; });
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const gw = await startGateway({
    upstreams: { up: { url: `http://127.0.0.1:${(up.address() as AddressInfo).port}` } },
    routes: [{ id: 'up', path: '/', upstream: 'up', access: 'public', timeouts: { totalMs: TOTAL_MS } }],
  });
  const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
    socket.pause();
    const until = Date.now() + TOTAL_MS + 3000;
    while (upstreamClosedAt < 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(upstreamFinished, false, 'the upstream could not send the whole body to a client that reads nothing');
    assert.ok(upstreamClosedAt >= 0, `the upstream connection was still open ${TOTAL_MS + 3000} ms after the request (totalMs ${TOTAL_MS})`);
    assert.ok(upstreamClosedAt < TOTAL_MS + 1000, `upstream released after ${upstreamClosedAt} ms with totalMs ${TOTAL_MS}`);
    const record = gw.logs.lines.find((l) => l.type === 'access');
    assert.equal(record?.code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
    assert.equal(record?.status, 200, 'the status had been sent; the cut shows in the code');
    assert.ok((record?.bytesOut as number) < BODY_MIB * 1024 * 1024);
  } finally {
    socket.destroy();
    up.closeAllConnections();
    up.close();
    await gw.close();
  }
});

it('a client that stops reading is cut at limits.sendTimeoutMs (slow-read protection) long before a generous totalMs, and the upstream connection is released', async () => {
  const SEND_MS = 1000;
  let upstreamClosedAt = -1;
  const started = Date.now();
  const up = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(BODY_MIB * 1024 * 1024) });
    const chunk = Buffer.alloc(64 * 1024, 97);
    let left = BODY_MIB * 16;
    const pump = () => { while (left > 0) { left--; if (!res.write(chunk)) { res.once('drain', pump); return; } } res.end(); };
    pump();
    res.on('close', () => { upstreamClosedAt = Date.now() - started; });
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const gw: TestGateway = await startGateway({
    limits: { sendTimeoutMs: SEND_MS },
    upstreams: { up: { url: `http://127.0.0.1:${(up.address() as AddressInfo).port}` } },
    routes: [{ id: 'up', path: '/', upstream: 'up', access: 'public', timeouts: { totalMs: 60_000 } }],
  });
  const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
    socket.pause();
    const until = Date.now() + SEND_MS + 4000;
    while (upstreamClosedAt < 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.ok(upstreamClosedAt >= 0, `the upstream connection was still open ${SEND_MS + 4000} ms after the request (sendTimeoutMs ${SEND_MS}, totalMs 60 s)`);
    const record = gw.logs.lines.find((l) => l.type === 'access');
    assert.ok(record, 'the cut request has its access record');
    assert.ok((record?.bytesOut as number) < BODY_MIB * 1024 * 1024);
  } finally {
    socket.destroy();
    up.closeAllConnections();
    up.close();
    await gw.close();
  }
});
