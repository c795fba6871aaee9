import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { closeServer } from './server-lifecycle.ts';

/** What draining watches: the requests still in flight and the upgraded sockets. */
export interface DrainableRequests {
  readonly inflight: number;
  readonly upgradeSockets: Iterable<Duplex>;
}

/**
 * Stops the servers accepting, lets in-flight requests finish (up to `graceMs`), then closes
 * every connection left; resolves once the servers are closed.
 */
export async function drainServers(servers: readonly (HttpServer | HttpsServer)[], requests: DrainableRequests, graceMs: number): Promise<void> {
  const closed = Promise.all(servers.map((server) => closeServer(server)));
  for (const server of servers) server.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  while (requests.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  for (const server of servers) server.closeAllConnections();
  // closeAllConnections does not reach an upgraded socket (its HTTP parser is gone), and
  // server.close waits for it: a tunnel left open would hold shutdown for as long as the client likes.
  for (const socket of requests.upgradeSockets) socket.destroy();
  await closed;
}
