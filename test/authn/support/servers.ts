/** Small real servers for the tests: a JWKS endpoint over HTTPS and a hit counter. */
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import type { CertAndKey } from './pki.ts';

export interface JwksServer { url: string; hits: number; setJwks(jwks: JSONWebKeySet): void; close(): Promise<void> }

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Serves `jwks` at /jwks over HTTPS with `tls` (whose certificate must be for 127.0.0.1). */
export async function startJwksServer(tls: CertAndKey, initial: JSONWebKeySet): Promise<JwksServer> {
  let jwks = initial;
  const state = { hits: 0 };
  const server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    state.hits++;
    if (req.url !== '/jwks') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(jwks));
  });
  const port = await listen(server);
  return {
    url: `https://127.0.0.1:${port}/jwks`,
    get hits() { return state.hits; },
    setJwks(next) { jwks = next; },
    close: () => closeServer(server),
  };
}

/** An HTTP server that only counts requests (the attacker's `jku`/`x5u` host). */
export async function startHitCounter(body = '{}'): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const server = createHttpServer((_req, res) => { state.hits++; res.writeHead(200, { 'content-type': 'application/json' }).end(body); });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, get hits() { return state.hits; }, close: () => closeServer(server) };
}
