/**
 * Once a WebSocket upgrade has switched protocols the exchange is a byte tunnel that no
 * request timeout bounds. `timeouts.tunnelIdleMs` closes a tunnel in which neither side
 * has sent anything for that long, so that abandoned tunnels cannot pile up to
 * limits.maxConnections; a tunnel that carries traffic in either direction stays open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { startGateway, type TestGateway } from '../support/gateway.ts';

const IDLE_MS = 400;

/** Upstream: accepts the upgrade, echoes what it gets, and on "push" sends a byte every 100 ms. */
let upstream: Server;
const upstreamSockets = new Set<Socket>();
const upstreamClosed = new WeakSet<Socket>();
let gw: TestGateway;

before(async () => {
  upstream = createServer();
  upstream.on('upgrade', (_req, socket: Socket) => {
    upstreamSockets.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    let pusher: NodeJS.Timeout | undefined;
    socket.on('data', (d: Buffer) => {
      if (d.toString() === 'push') pusher = setInterval(() => socket.write('.'), 100);
      else socket.write(d);
    });
    const closed = () => { upstreamClosed.add(socket); clearInterval(pusher); };
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  gw = await startGateway({
    upstreams: { ws: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } },
    routes: [{ id: 'ws', path: '/ws', upstream: 'ws', access: 'public', websocket: true, timeouts: { tunnelIdleMs: IDLE_MS } }],
  });
});

after(async () => {
  for (const s of upstreamSockets) s.destroy();
  upstream.close();
  await gw.close();
});

interface Tunnel { socket: TLSSocket; received: () => string; closed: () => boolean; upstreamSocket: Socket }

async function openTunnel(): Promise<Tunnel> {
  const known = new Set(upstreamSockets);
  const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('secureConnect', () => r()));
  let data = '';
  let closed = false;
  socket.on('data', (d: Buffer) => { data += d; });
  socket.on('close', () => { closed = true; });
  socket.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  await waitFor(() => /\r\n\r\n/.test(data), 3000);
  assert.match(data, /^HTTP\/1\.1 101/);
  const upstreamSocket = [...upstreamSockets].find((s) => !known.has(s));
  assert.ok(upstreamSocket, 'the upstream saw the upgrade');
  return { socket, received: () => data.slice(data.indexOf('\r\n\r\n') + 4), closed: () => closed, upstreamSocket };
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return condition();
}

describe('WebSocket tunnel idle timeout', () => {
  it('an abandoned tunnel (no bytes either way for tunnelIdleMs) is closed on both sides', async () => {
    const t = await openTunnel();
    try {
      t.socket.write('hello');
      assert.ok(await waitFor(() => t.received() === 'hello', 2000), 'the tunnel echoes before it goes quiet');
      const quietFrom = Date.now();
      assert.ok(await waitFor(() => t.closed(), IDLE_MS + 2000), 'the client side was closed');
      const closedAfter = Date.now() - quietFrom;
      assert.ok(closedAfter >= IDLE_MS - 50, `closed after ${closedAfter} ms, before tunnelIdleMs ${IDLE_MS}`);
      assert.ok(await waitFor(() => upstreamClosed.has(t.upstreamSocket), 1000), 'the upstream side was closed');
    } finally {
      t.socket.destroy();
    }
  });

  it('a tunnel the client keeps talking on outlives tunnelIdleMs', async () => {
    const t = await openTunnel();
    try {
      for (let i = 0; i < 12; i++) {
        t.socket.write('x');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(t.closed(), false, `closed after ${12 * 100} ms of traffic every 100 ms (tunnelIdleMs ${IDLE_MS})`);
      assert.ok(await waitFor(() => t.received() === 'x'.repeat(12), 1000), 'every byte came back');
    } finally {
      t.socket.destroy();
    }
  });

  it('a tunnel on which only the upstream sends (server push) outlives tunnelIdleMs', async () => {
    const t = await openTunnel();
    try {
      t.socket.write('push');
      await new Promise((r) => setTimeout(r, 3 * IDLE_MS));
      assert.equal(t.closed(), false, 'the tunnel stayed open while the upstream pushed');
      assert.ok(t.received().length >= 8, `the client got the pushed bytes (${t.received().length})`);
    } finally {
      t.socket.destroy();
    }
  });
});
