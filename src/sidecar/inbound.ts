/**
 * Inbound: terminates mTLS in front of a plain local port. Only peers with a certificate
 * from Gatehouse's CA, unrevoked, with an allowed SPIFFE id get through (MtlsServerGuard
 * refuses the rest before a byte is forwarded); the verified identity is logged for every
 * connection.
 *
 * Two modes:
 * - `tcp` (default): bytes in both directions, protocol-agnostic (HTTP, gRPC, databases…).
 * - `http`: each request is forwarded to the local HTTP service with `x-gatehouse-peer: <SPIFFE id>`
 *   set by the sidecar (a value sent by the peer is removed first, in any spelling — also
 *   `x_gatehouse_peer` — so the service can trust it).
 *   No protocol upgrades (WebSocket): use tcp mode for those.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import type { WorkloadIdentity } from '../pki/client/workload-identity.ts';
import type { PkiEventListener } from '../pki/events.ts';
import { MtlsServerGuard } from '../pki/mtls/server-guard.ts';
import type { InboundSpec } from './specs.ts';

/** Header with the caller's verified SPIFFE id, in http mode. */
export const PEER_HEADER = 'x-gatehouse-peer';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', PEER_HEADER]);

export interface InboundOptions {
  identity: WorkloadIdentity;
  spec: InboundSpec;
  allowedPeers: readonly string[] | ((spiffeId: string) => boolean);
  mode: 'tcp' | 'http';
  /** ALPN protocols accepted in tcp mode (SidecarOptions.alpn). */
  alpn?: readonly string[];
  logger: Logger;
  onEvent?: PkiEventListener;
}

export interface InboundProxy {
  address(): AddressInfo;
  close(): Promise<void>;
}

function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const listed = new Set(String(headers.connection ?? '').toLowerCase().split(',').map((h) => h.trim()).filter(Boolean));
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    // CGI-style servers (WSGI, Rack, PHP…) read `x_gatehouse_peer` as HTTP_X_GATEHOUSE_PEER, the
    // same variable as ours: a peer must not reach the service with a second spelling of it.
    const dashed = name.replaceAll('_', '-');
    if (value === undefined || HOP_BY_HOP.has(dashed) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Starts listening; resolves once bound. */
export async function startInbound(options: InboundOptions): Promise<InboundProxy> {
  const { identity, spec, logger } = options;
  const log = logger.child({ component: 'sidecar-inbound', listenPort: spec.listenPort, localPort: spec.localPort });
  const guard = new MtlsServerGuard({
    material: identity.material, trust: identity.trust, policy: { allowedSpiffeIds: options.allowedPeers },
    onEvent: (event) => {
      if (event.type === 'pki.peer.refused') log.warn({ code: event.code, reason: event.reason, peer: event.spiffeId, serial: event.serial, remoteAddress: event.remoteAddress }, 'inbound connection refused');
      options.onEvent?.(event);
    },
  });

  let server: TlsServer | HttpsServer;
  if (options.mode === 'http') {
    server = createHttpsServer(guard.serverOptions(), (req: IncomingMessage, res: ServerResponse) => {
      const peer = guard.peerOf(req.socket as TLSSocket);
      if (!peer) { res.destroy(); return; } // unreachable: the guard closed such sockets
      const upstream = httpRequest({
        host: '127.0.0.1', port: spec.localPort, method: req.method, path: req.url,
        headers: { ...forwardHeaders(req.headers), [PEER_HEADER]: peer.spiffeId },
      }, (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, forwardHeaders(upstreamRes.headers));
        // pipe() does not pass on an abort: a local service dying mid-response would leave the
        // peer's response open for ever (and a chunked one indistinguishable from a slow one).
        upstreamRes.on('close', () => { if (!upstreamRes.complete) res.destroy(); });
        upstreamRes.pipe(res);
      });
      upstream.on('error', (cause) => {
        const e = new GatehouseError('ERR_SIDECAR_LOCAL_UNREACHABLE', { detail: cause.message, cause });
        log.error({ code: e.code, detail: e.detail, peer: peer.spiffeId }, 'local service unreachable');
        if (!res.headersSent) { res.writeHead(e.status, { 'content-type': 'application/json' }); res.end(JSON.stringify({ error: e.code, message: e.publicMessage })); } else res.destroy();
      });
      // The peer went away mid-exchange: stop talking to the local service for it.
      res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
      req.pipe(upstream);
    });
  } else {
    server = createTlsServer({ ...guard.serverOptions(), ...(options.alpn?.length ? { ALPNProtocols: [...options.alpn] } : {}) });
  }
  guard.attach(server);
  // Runs after the guard's prepended check: a socket still open here was accepted.
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = guard.peerOf(socket);
    if (!peer || socket.destroyed) return;
    log.info({ peer: peer.spiffeId, serial: peer.serial, remoteAddress: socket.remoteAddress }, 'inbound connection accepted');
    if (options.mode === 'http') return;
    const local = netConnect({ host: '127.0.0.1', port: spec.localPort });
    local.on('error', (err) => { log.error({ code: 'ERR_SIDECAR_LOCAL_UNREACHABLE', detail: err.message, peer: peer.spiffeId }, 'local service unreachable'); socket.destroy(); });
    socket.on('error', () => local.destroy());
    socket.on('close', () => local.destroy());
    local.on('close', () => socket.destroy());
    socket.pipe(local);
    local.pipe(socket);
  });
  const unsubscribe = identity.onChange((change) => guard.update(change));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.listenPort, spec.listenHost, () => { server.off('error', reject); resolve(); });
  });
  log.info({ address: server.address() }, 'inbound mTLS listening');
  return {
    address: () => server.address() as AddressInfo,
    close: async () => {
      unsubscribe();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
    },
  };
}
