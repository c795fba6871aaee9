/**
 * The floor of what a Node.js reverse proxy can do: node:https in front, an undici Pool
 * with keep-alive behind, bodies streamed both ways, hop-by-hop headers dropped, and
 * nothing else (no routing, limits, logging or security). Gatehouse is compared with it to
 * see what Gatehouse's own work costs on top of Node itself.
 *
 * Usage: node test/bench/minimal-proxy.ts --port P --upstream http://127.0.0.1:U --cert C --key K [--connections 256]
 * Prints "listening <port>" once it accepts connections.
 */
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    upstream: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    connections: { type: 'string', default: '256' },
  },
});
if (!values.upstream || !values.cert || !values.key) {
  process.stderr.write('usage: minimal-proxy.ts --port P --upstream URL --cert FILE --key FILE [--connections N]\n');
  process.exit(2);
}

const pool = new Pool(values.upstream, {
  connections: Number(values.connections),
  pipelining: 1,
  keepAliveTimeout: 60_000,
});

// RFC 9110 §7.6.1: connection-specific fields are not forwarded (undici also refuses them).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

function forwardHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!);
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  pool.stream(
    {
      path: req.url ?? '/',
      method: req.method ?? 'GET',
      headers: forwardHeaders(req.rawHeaders),
      body: hasBody(req) ? req : null,
    },
    ({ statusCode, headers }) => {
      for (const name of HOP_BY_HOP) delete headers[name];
      res.writeHead(statusCode, headers);
      return res;
    },
  ).catch(() => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    } else {
      res.destroy();
    }
  });
}

const server = createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key) }, handle);
server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : values.port}\n`);
});

const shutdown = (): void => {
  server.close();
  void pool.close();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
