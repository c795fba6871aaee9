/**
 * `createMtlsServer`: a node `https` server for a service in its own process that accepts
 * only workloads Gatehouse issued certificates to, and only the SPIFFE ids it allows.
 *
 * The chain, validity and revocation (CRLs in the secure context) are judged by OpenSSL in
 * the handshake; the SPIFFE id policy by MtlsServerGuard right after it. A refused connection
 * is destroyed before the HTTP parser reads a byte, so the handler never runs for it; every
 * refusal is a `pki.peer.refused` event (for audit). The server's certificate and the trust
 * material are swapped in with `setSecureContext()` when the WorkloadIdentity renews or
 * fetches new CRLs: no restart, no dropped connection; a live connection whose peer has
 * since been revoked is closed.
 */
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { WorkloadIdentity } from '../../pki/client/workload-identity.ts';
import type { PkiEvent, PkiEventListener } from '../../pki/events.ts';
import { MtlsServerGuard } from '../../pki/mtls/server-guard.ts';
import type { VerifiedPeer } from '../../pki/mtls/verify-peer.ts';
import { resolveIdentity, type IdentitySource } from './identity-source.ts';

/** Which peers may connect: a list of SPIFFE ids, or a predicate. */
export type AllowedPeers = readonly string[] | ((spiffeId: string) => boolean);

export type PeerRefusedEvent = Extract<PkiEvent, { type: 'pki.peer.refused' }>;

export type MtlsServerOptions = IdentitySource & {
  /** SPIFFE ids allowed to connect. Required: there is no "anyone with a certificate" default. */
  allowedPeers: AllowedPeers;
  /** Called for every refused connection (code, OpenSSL reason, peer id/serial when known). */
  onPeerRefused?: (event: PeerRefusedEvent) => void;
  /** Every PKI event of this server (peer accepted/refused, rotations). */
  onEvent?: PkiEventListener;
  /** Further `https` server options (timeouts…); TLS material and client-certificate settings are ours. */
  serverOptions?: Omit<ServerOptions, 'key' | 'cert' | 'ca' | 'crl' | 'requestCert' | 'rejectUnauthorized' | 'pfx' | 'secureContext'>;
};

export interface MtlsServer {
  readonly server: Server;
  readonly identity: WorkloadIdentity;
  /** Listens (default `0.0.0.0`, port 0) and resolves with the address. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, closes connections, and stops the identity if this server started it. */
  close(): Promise<void>;
}

const peers = new WeakMap<TLSSocket, VerifiedPeer>();

/** The verified identity of the workload that sent `req` to an mTLS server made here. */
export function peerOf(req: IncomingMessage): VerifiedPeer | undefined {
  return peers.get(req.socket as TLSSocket);
}

/**
 * Starts (or reuses) the workload identity and builds the server; call `listen()` next.
 *
 * @throws GatehouseError from WorkloadIdentity.start (e.g. ERR_PKI_BOOTSTRAP_TOKEN_INVALID, ERR_PKI_CLIENT_NO_CREDENTIAL)
 *
 * @example
 *   import { createMtlsServer, peerOf } from 'gatehouse/sdk';
 *
 *   const mtls = await createMtlsServer({
 *     gatehouseUrl: 'https://gatehouse.example',
 *     spiffeId: 'spiffe://example/svc/mail-store',
 *     bootstrapToken: process.env.GATEHOUSE_BOOTSTRAP_TOKEN, // first start only
 *     dataDir: '/var/lib/mail-store/identity',               // key + cert kept here (0600)
 *     allowedPeers: ['spiffe://example/svc/mail-api'],
 *     onPeerRefused: (e) => log.warn(e, 'mTLS peer refused'),
 *   }, (req, res) => res.end(`hello ${peerOf(req)!.spiffeId}`));
 *   await mtls.listen(8443);
 */
export async function createMtlsServer(options: MtlsServerOptions, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<MtlsServer> {
  const { identity, owned } = await resolveIdentity(options);
  const policy = { allowedSpiffeIds: options.allowedPeers };
  const guard = new MtlsServerGuard({
    material: identity.material, trust: identity.trust, policy,
    // Kept at every renewal and trust refresh, not only at creation (setSecureContext replaces the context).
    ...(options.serverOptions ? { tlsSettings: options.serverOptions } : {}),
    onEvent: (event) => {
      if (event.type === 'pki.peer.refused') options.onPeerRefused?.(event);
      options.onEvent?.(event);
    },
  });
  const server = createServer({ ...options.serverOptions, ...guard.serverOptions() }, handler);
  guard.attach(server);
  // After the guard's (prepended) check: a socket still open here was accepted.
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = guard.peerOf(socket);
    if (peer) peers.set(socket, peer);
  });
  const unsubscribe = identity.onChange((change) => guard.update(change));
  return {
    server, identity,
    listen: (port = 0, host = '0.0.0.0') => new Promise<AddressInfo>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(server.address() as AddressInfo); });
    }),
    close: async () => {
      unsubscribe();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      if (owned) await identity.stop();
    },
  };
}
