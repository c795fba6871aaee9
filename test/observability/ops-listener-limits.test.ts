/**
 * The ops listener is reachable by whatever can reach its address (often every pod of the
 * cluster). A client that opens connections and sends its request head or body a byte at a
 * time must be cut off soon, not after Node's defaults (a minute for the head, five for the
 * request): otherwise a few hundred such connections keep the listener's sockets, and the
 * kubelet's probes and Prometheus' scrapes queue behind them. The same goes for one that asks
 * for /metrics and never reads the answer: it held the socket and the unsent text in memory
 * for as long as it liked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { createOpsServer } from '../../src/observability/ops-server.ts';
import { HealthRegistry } from '../../src/observability/health.ts';

/** Milliseconds until the server closes `socket`, or undefined if still open after `limitMs`. */
function closedWithin(socket: Socket, limitMs: number): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { socket.destroy(); resolve(undefined); }, limitMs);
    socket.on('error', () => undefined);
    socket.once('close', () => { clearTimeout(timer); resolve(performance.now() - started); });
  });
}

describe('ops listener limits', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createOpsServer({
      health: new HealthRegistry('test'), registry: new Registry(), isDraining: () => false,
      actions: () => new Map([['/act', async () => ({ done: true })]]),
    }, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

  it('cuts a client that sends its request head slowly (slowloris) after the header timeout', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => socket.write('X-A: b\r\n'), 100);
    const ms = await closedWithin(socket, 4000);
    clearInterval(drip);
    assert.notEqual(ms, undefined, 'still open after 4 s');
  });

  it('cuts a client that sends an action\'s body slowly after the request timeout', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.write('POST /act HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
    const drip = setInterval(() => socket.write(' '), 100);
    const ms = await closedWithin(socket, 4000);
    clearInterval(drip);
    assert.notEqual(ms, undefined, 'still open after 4 s');
  });
});

describe('ops listener limits on reading the answer', () => {
  it('cuts a client that asks for /metrics and stops reading (slow read) after the send timeout, instead of holding the unsent text for good', async () => {
    const registry = new Registry();
    // A text far larger than the kernel buffers on loopback take (a few MiB), so that most of it waits in the process.
    new Gauge({ name: 'test_big', help: 'x'.repeat(32 * 1024 * 1024), registers: [registry] }).set(1);
    const server = createOpsServer({ health: new HealthRegistry('test'), registry, isDraining: () => false, actions: () => new Map() }, { sendTimeoutMs: 500 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // The server's end of the connection: a client that reads nothing does not see it close.
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    try {
      socket.on('error', () => undefined);
      socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      socket.pause();
      const ms = await closedWithin(await accepted, 4000);
      assert.notEqual(ms, undefined, 'still open 4 s after the client stopped reading (send timeout 500 ms)');
      // A scraper that reads gets the whole text.
      const text = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).text();
      assert.match(text, /\ntest_big 1\n$/);
    } finally {
      socket.destroy();
      await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
    }
  });
});
