/** An https server on 127.0.0.1:0 protected by MtlsServerGuard, for the mTLS suites. */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { PkiEvent } from '../../../src/pki/events.ts';
import { MtlsServerGuard, type MtlsServerGuardOptions } from '../../../src/pki/mtls/server-guard.ts';

export interface GuardedServer {
  server: Server;
  guard: MtlsServerGuard;
  port: number;
  events: PkiEvent[];
  /** Requests that reached the handler, with the peer identity the guard verified. */
  handled: Array<{ path: string; spiffeId: string | undefined }>;
  close: () => Promise<void>;
}

export async function startGuardedServer(options: Omit<MtlsServerGuardOptions, 'onEvent'>): Promise<GuardedServer> {
  const events: PkiEvent[] = [];
  const handled: GuardedServer['handled'] = [];
  const guard = new MtlsServerGuard({ ...options, onEvent: (e) => events.push(e) });
  const server = createServer({ ...guard.serverOptions(), keepAliveTimeout: 10_000 }, (req, res) => {
    const peer = guard.peerOf(req.socket as TLSSocket);
    handled.push({ path: req.url ?? '', spiffeId: peer?.spiffeId });
    res.setHeader('content-type', 'text/plain');
    res.end(`hello ${peer?.spiffeId ?? 'anonymous'}\n`);
  });
  guard.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server, guard, events, handled,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
