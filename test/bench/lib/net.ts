/**
 * Small network helpers: a free loopback port, waiting for a server, and one probe request
 * that checks a target really answers "200 ok" (through TLS when it is HTTPS).
 */
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';

/**
 * A port that was free a moment ago. nginx and Gatehouse take their port from a config
 * file, so they cannot be given port 0; the race with another process is accepted.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** What one probe request saw. */
export interface ProbeResult {
  status: number;
  body: string;
  /** Negotiated TLS version and cipher, for HTTPS targets. */
  tls?: { protocol: string; cipher: string };
}

/** One GET with a fresh connection; `ca` is the bench certificate for HTTPS targets. */
export function probe(url: string, ca?: string, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const https = url.startsWith('https:');
    const send = https ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', agent: false, timeout: timeoutMs, ...(https ? { ca } : {}) }, (res) => {
      const socket = res.socket as TLSSocket;
      const tls = https ? { protocol: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher().standardName } : undefined;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(tls ? { tls } : {}) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `url` until it answers with a status below 500, or gives up after `timeoutMs`. */
export async function waitForHttp(url: string, options: { ca?: string; timeoutMs?: number; exited?: Promise<unknown> } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let exited = false;
  void options.exited?.then(() => { exited = true; });
  let last: unknown;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`process exited before ${url} answered`);
    try {
      const result = await probe(url, options.ca, 1000);
      if (result.status < 500) return;
      last = new Error(`status ${result.status}`);
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer within ${options.timeoutMs ?? 20_000} ms: ${last instanceof Error ? last.message : String(last)}`);
}
