/**
 * A client that asks for a large streamed response and then stops reading (a slow-read
 * attack) makes the gateway pause the upstream (backpressure). routes[].timeouts.totalMs
 * bounds that: the exchange is cut at the total time and the upstream connection released,
 * instead of both staying open for as long as the client likes. limits.sendTimeoutMs cuts such a
 * client sooner: once it has left Gatehouse's bytes unread that long.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../support/gateway.ts';

// Far more than the kernel buffers between upstream, gateway and client take together (a few MiB on loopback).
const BODY_MIB = 64;
const TOTAL_MS = 1500;

interface SlowRead {
  gw: TestGateway;
  /** ms after the request when the upstream's response closed (-1: still open). */
  upstreamClosedAt: () => number;
  upstreamFinished: () => boolean;
  close: () => Promise<void>;
}

/** An upstream streaming BODY_MIB, a gateway in front with `config`, and a client that sends one request and reads nothing. */
async function slowReader(config: { limits?: Record<string, unknown>; totalMs: number }): Promise<SlowRead> {
  let closedAt = -1;
  let finished = false;
  const started = Date.now();
  const up: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(BODY_MIB * 1024 * 1024) });
    const chunk = Buffer.alloc(64 * 1024, 97);
    let left = BODY_MIB * 16;
    const pump = () => { while (left > 0) { left--; if (!res.write(chunk)) { res.once('drain', pump); return; } } res.end(); };
    pump();
    res.on('finish', () => { finished = true; });
    res.on('close', () => { closedAt = Date.now() - started; });
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const gw = await startGateway({
    ...(config.limits ? { limits: config.limits } : {}),
    upstreams: { up: { url: `http://127.0.0.1:${(up.address() as AddressInfo).port}` } },
    routes: [{ id: 'up', path: '/', upstream: 'up', access: 'public', timeouts: { totalMs: config.totalMs } }],
  });
  const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
  socket.on('error', () => undefined);
  const close = async () => {
    socket.destroy();
    up.closeAllConnections();
    up.close();
    await gw.close();
  };
  try {
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
    socket.pause();
  } catch (error) {
    await close();
    throw error;
  }
  return { gw, upstreamClosedAt: () => closedAt, upstreamFinished: () => finished, close };
}

async function waitForUpstreamClose(s: SlowRead, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  while (s.upstreamClosedAt() < 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

it('a client that stops reading a large streamed response is cut at totalMs and the upstream connection is released', async () => {
  const s = await slowReader({ totalMs: TOTAL_MS });
  try {
    await waitForUpstreamClose(s, TOTAL_MS + 3000);
    assert.equal(s.upstreamFinished(), false, 'the upstream could not send the whole body to a client that reads nothing');
    assert.ok(s.upstreamClosedAt() >= 0, `the upstream connection was still open ${TOTAL_MS + 3000} ms after the request (totalMs ${TOTAL_MS})`);
    assert.ok(s.upstreamClosedAt() < TOTAL_MS + 1000, `upstream released after ${s.upstreamClosedAt()} ms with totalMs ${TOTAL_MS}`);
    const record = s.gw.logs.lines.find((l) => l.type === 'access');
    assert.equal(record?.code, 'ERR_GATEWAY_UPSTREAM_TIMEOUT');
    assert.equal(record?.status, 200, 'the status had been sent; the cut shows in the code');
    assert.ok((record?.bytesOut as number) < BODY_MIB * 1024 * 1024);
  } finally {
    await s.close();
  }
});

it('a client that stops reading is cut at limits.sendTimeoutMs (slow-read protection) long before a generous totalMs, and the upstream connection is released', async () => {
  const SEND_MS = 1000;
  const s = await slowReader({ limits: { sendTimeoutMs: SEND_MS }, totalMs: 60_000 });
  try {
    await waitForUpstreamClose(s, SEND_MS + 4000);
    assert.ok(s.upstreamClosedAt() >= 0, `the upstream connection was still open ${SEND_MS + 4000} ms after the request (sendTimeoutMs ${SEND_MS}, totalMs 60 s)`);
    const record = s.gw.logs.lines.find((l) => l.type === 'access');
    assert.ok(record, 'the cut request has its access record');
    assert.ok((record?.bytesOut as number) < BODY_MIB * 1024 * 1024);
  } finally {
    await s.close();
  }
});
