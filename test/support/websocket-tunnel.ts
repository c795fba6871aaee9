/**
 * WebSocket tunnels through the gateway over real sockets: an upstream that switches
 * protocols and echoes what it gets, and a client that opens a tunnel over TLS and reports
 * when either end has closed.
 */
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import assert from 'node:assert/strict';

export interface EchoUpstream {
  url: string;
  sockets: Set<Socket>;
  close(): void;
}

/** An upstream that answers every upgrade with 101 and then echoes the tunnel's bytes. */
export async function startEchoWebSocketUpstream(): Promise<EchoUpstream> {
  const server: Server = createServer();
  const sockets = new Set<Socket>();
  server.on('upgrade', (_req, socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sockets,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

export interface OpenTunnel {
  client: TLSSocket;
  clientClosed(): boolean;
  upstreamClosed(): boolean;
}

/**
 * Opens a tunnel on `path` through the gateway's HTTPS port and checks it echoes.
 * @param tls client certificate and key, for a route that authenticates by certificate.
 */
export async function openWebSocketTunnel(port: number, upstream: EchoUpstream, path: string, headers: Record<string, string> = {}, tls: { cert?: string; key?: string } = {}): Promise<OpenTunnel> {
  const known = new Set(upstream.sockets);
  const client = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...tls });
  client.on('error', () => undefined);
  await new Promise<void>((r) => client.once('secureConnect', () => r()));
  let data = '';
  let clientClosed = false;
  client.on('data', (d: Buffer) => { data += d; });
  client.on('close', () => { clientClosed = true; });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
  assert.ok(await waitFor(() => /\r\n\r\n/.test(data), 5000), `no handshake answer: ${data}`);
  assert.match(data, /^HTTP\/1\.1 101/, data);
  const upstreamSocket = [...upstream.sockets].find((s) => !known.has(s))!;
  let upstreamClosed = false;
  // The upstream's server socket allows half-open connections: the gateway's close arrives as 'end'.
  upstreamSocket.on('end', () => { upstreamClosed = true; });
  upstreamSocket.on('close', () => { upstreamClosed = true; });
  const before = data.length;
  client.write('ping');
  assert.ok(await waitFor(() => data.length >= before + 4, 2000), 'the tunnel echoes');
  return { client, clientClosed: () => clientClosed, upstreamClosed: () => upstreamClosed };
}

export async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return condition();
}
