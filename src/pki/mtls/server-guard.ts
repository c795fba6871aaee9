/**
 * Enforces mTLS on `tls`/`https` servers and reports every refusal.
 *
 * OpenSSL judges the chain, validity and CRLs during the handshake; the guard reads its
 * verdict (with the precise reason), adds what OpenSSL cannot know (the SPIFFE id policy),
 * and destroys a refused connection synchronously in `secureConnection`, before the HTTP
 * parser has read a byte. It also swaps material/trust into attached servers without a
 * restart (`setSecureContext`: existing connections keep going) and, after each trust
 * update (CRL refresh), closes live connections whose certificate has since been revoked
 * or has expired.
 */
import type { SecureContextOptions, Server, TLSSocket } from 'node:tls';
import type { ErrorCode } from '../../core/error-codes.ts';
import { toGatehouseError } from '../../core/errors.ts';
import { emitSafely, type PkiEvent, type PkiEventListener } from '../events.ts';
import { normalizeSerial } from '../serial.ts';
import type { TrustStore } from '../trust-store.ts';
import type { SpiffeIdentityPolicy } from './check-server-identity.ts';
import { mtlsServerOptions, secureContextOptions } from './tls-options.ts';
import type { TlsMaterial } from './tls-material.ts';
import { verifyPeer, type VerifiedPeer } from './verify-peer.ts';

export type PeerRefusal = Extract<PkiEvent, { type: 'pki.peer.refused' }>;

export interface MtlsServerGuardOptions {
  material: TlsMaterial;
  trust: TrustStore;
  /** Which client SPIFFE ids may connect; omitted: any identity of our trust domain. */
  policy?: SpiffeIdentityPolicy;
  /** false: a client without a certificate is let through (peer undefined), e.g. the bootstrap API. */
  requireClientCert?: boolean;
  /** Called for every refused connection (audit). */
  onEvent?: PkiEventListener;
  /**
   * The server's other TLS settings (suites, versions, groups, ticket keys…), given again at every
   * swap: `setSecureContext` replaces the whole context, and a setting given only to
   * `createServer` would fall back to Node's default at the first renewal or CRL refresh.
   * Material, trust and the guard's own settings win over these.
   */
  tlsSettings?: SecureContextOptions;
}

const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const REVOKED = new Set(['CERT_REVOKED']);

function codeForOpenssl(reason: string): ErrorCode {
  if (EXPIRED.has(reason)) return 'ERR_PKI_PEER_CERT_EXPIRED';
  if (REVOKED.has(reason)) return 'ERR_PKI_PEER_CERT_REVOKED';
  return 'ERR_PKI_PEER_CERT_UNTRUSTED';
}

export class MtlsServerGuard {
  #material: TlsMaterial;
  #trust: TrustStore;
  readonly #policy: SpiffeIdentityPolicy | undefined;
  readonly #requireClientCert: boolean;
  readonly #onEvent: PkiEventListener | undefined;
  readonly #tlsSettings: SecureContextOptions;
  readonly #servers = new Set<Server>();
  readonly #live = new Map<TLSSocket, VerifiedPeer>();
  readonly #peers = new WeakMap<TLSSocket, VerifiedPeer>();

  constructor(options: MtlsServerGuardOptions) {
    this.#material = options.material;
    this.#trust = options.trust;
    this.#policy = options.policy;
    this.#requireClientCert = options.requireClientCert ?? true;
    this.#onEvent = options.onEvent;
    this.#tlsSettings = options.tlsSettings ?? {};
  }

  /** Options to create the server with (`https.createServer(guard.serverOptions(), …)`). */
  serverOptions() {
    return { ...this.#tlsSettings, ...mtlsServerOptions(this.#material, this.#trust) };
  }

  get trust(): TrustStore {
    return this.#trust;
  }

  /** Starts enforcing on `server`. Must be called before it accepts connections. */
  attach(server: Server): void {
    this.#servers.add(server);
    // prepend: run before http's own listener, so a refused socket never reaches the parser.
    server.prependListener('secureConnection', (socket: TLSSocket) => this.#check(socket));
    server.once('close', () => this.#servers.delete(server));
  }

  /** The verified identity of a connection accepted by this guard. */
  peerOf(socket: TLSSocket): VerifiedPeer | undefined {
    return this.#peers.get(socket);
  }

  /**
   * New material (rotation) and/or trust (CRL refresh): every attached server gets a new
   * secure context; live connections are re-checked against the new trust.
   */
  update(change: { material?: TlsMaterial; trust?: TrustStore }): void {
    if (change.material) this.#material = change.material;
    if (change.trust) this.#trust = change.trust;
    const context = { ...this.#tlsSettings, ...secureContextOptions(this.#material, this.#trust) };
    for (const server of this.#servers) server.setSecureContext(context);
    if (change.trust) {
      // The whole verdict again, not only the CRL: a keep-alive connection or TCP tunnel
      // must not outlive its certificate's expiry or its intermediate's revocation.
      for (const [socket, peer] of this.#live) {
        try {
          verifyPeer(socket.getPeerCertificate(), this.#trust, { ...(this.#policy ?? {}), purpose: 'client' });
        } catch (error) {
          const e = toGatehouseError(error);
          const reason = e.code === 'ERR_PKI_PEER_CERT_REVOKED' ? 'revoked while connected' : `no longer valid while connected: ${e.detail ?? e.code}`;
          this.#refuse(socket, e.code, reason, peer.spiffeId, peer.serial);
        }
      }
    }
  }

  #check(socket: TLSSocket): void {
    const cert = socket.getPeerCertificate();
    const present = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
    if (!present) {
      if (this.#requireClientCert) this.#refuse(socket, 'ERR_PKI_PEER_CERT_MISSING', 'no client certificate');
      return;
    }
    if (!socket.authorized) {
      const reason = String(socket.authorizationError ?? 'UNKNOWN');
      this.#refuse(socket, codeForOpenssl(reason), reason, undefined, cert.serialNumber ? normalizeSerial(cert.serialNumber) : undefined);
      return;
    }
    let peer: VerifiedPeer;
    try {
      peer = verifyPeer(cert, this.#trust, { ...(this.#policy ?? {}), purpose: 'client' });
    } catch (error) {
      const e = toGatehouseError(error);
      const data = e.data as { spiffeId?: string; serial?: string } | undefined;
      this.#refuse(socket, e.code, e.detail ?? e.code, data?.spiffeId, data?.serial);
      return;
    }
    this.#peers.set(socket, peer);
    this.#live.set(socket, peer);
    socket.once('close', () => this.#live.delete(socket));
    emitSafely(this.#onEvent, { type: 'pki.peer.accepted', spiffeId: peer.spiffeId, serial: peer.serial, ...(socket.remoteAddress ? { remoteAddress: socket.remoteAddress } : {}) });
  }

  #refuse(socket: TLSSocket, code: ErrorCode, reason: string, spiffeId?: string, serial?: string): void {
    const remoteAddress = socket.remoteAddress;
    this.#live.delete(socket);
    socket.destroy();
    emitSafely(this.#onEvent, {
      type: 'pki.peer.refused', code, reason,
      ...(remoteAddress ? { remoteAddress } : {}),
      ...(spiffeId ? { spiffeId } : {}), ...(serial ? { serial } : {}),
    });
  }
}
