/**
 * The ops listener is reachable by whatever can reach its address (often every pod of the
 * cluster). A client that opens connections and sends its request head or body a byte at a
 * time must be cut off soon, not after Node's defaults (a minute for the head, five for the
 * request): otherwise a few hundred such connections keep the listener's sockets, and the
 * kubelet's probes and Prometheus' scrapes queue behind them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
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
