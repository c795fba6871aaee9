/**
 * A small HTTP CONNECT proxy for tests: it records every CONNECT (target and header fields)
 * and answers as the test says: a tunnel to the target (or to where `route` sends it: the
 * tests stand in for a public address this way, the proxy reaching a local server), a refusal
 * with a status, silence, or raw bytes.
 */
import { connect as tcpConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface ConnectRequest {
  /** The request target of CONNECT (`127.0.0.1:443`, `[::1]:443`). */
  target: string;
  /** Header fields, names in lower case. */
  headers: Record<string, string>;
}

export type ProxyAnswer =
  | { kind: 'tunnel'; route?: (target: string) => { host: string; port: number }; extra?: Buffer }
  | { kind: 'refuse'; status: number }
  | { kind: 'silent' }
  | { kind: 'raw'; bytes: string };

export interface ConnectProxy {
  /** `http://127.0.0.1:<port>` (or https:// with `tls`). */
  url: string;
  port: number;
  requests: ConnectRequest[];
  /** Connections accepted, whether or not they sent CONNECT. */
  connections: number;
  answer: ProxyAnswer;
  close(): Promise<void>;
}

function splitAuthority(target: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  if (!m) throw new Error(`bad CONNECT target ${target}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** Starts the proxy on 127.0.0.1; `tls`: an https:// proxy with that key and certificate. */
export async function startConnectProxy(answer: ProxyAnswer = { kind: 'tunnel' }, tls?: { key: string; cert: string }): Promise<ConnectProxy> {
  const sockets = new Set<Socket>();
  const proxy: ConnectProxy = { url: '', port: 0, requests: [], connections: 0, answer, close: async () => {} };
  const onConnection = (client: Socket) => {
    proxy.connections += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      client.off('data', onData);
      const [requestLine, ...fields] = head.subarray(0, end).toString('latin1').split('\r\n');
      const [method, target] = requestLine!.split(' ');
      const headers = Object.fromEntries(fields.map((f) => [f.slice(0, f.indexOf(':')).toLowerCase(), f.slice(f.indexOf(':') + 1).trim()]));
      if (method !== 'CONNECT' || target === undefined) { client.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n'); return; }
      proxy.requests.push({ target, headers });
      const a = proxy.answer;
      if (a.kind === 'silent') return;
      if (a.kind === 'raw') { client.write(a.bytes); return; }
      if (a.kind === 'refuse') { client.end(`HTTP/1.1 ${a.status} Refused\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nrefused`); return; }
      const to = a.route ? a.route(target) : splitAuthority(target);
      const upstream = tcpConnect(to.port, to.host, () => {
        client.write(Buffer.concat([Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'), a.extra ?? Buffer.alloc(0)]));
        const rest = head.subarray(end + 4);
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  };
  const server: Server = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, onConnection) : createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `${tls ? 'https' : 'http'}://127.0.0.1:${proxy.port}`;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
