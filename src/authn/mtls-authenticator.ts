/**
 * mTLS client certificates as a credential. The TLS handshake proved possession of the key;
 * the `verify` hook (wired to src/pki `verifyPeer` with Gatehouse's trust store) checks the
 * chain, validity, revocation and key usage and returns the SPIFFE id, which names the service
 * principal. The result is remembered per TLS connection, so keep-alive requests are
 * synchronous; a principal change, or new trust (a CRL refresh), makes every connection
 * check again: a certificate revoked while its connection is open is refused on it too. So
 * does the end of the verdict's validity (`validUntil`: the CRLs' nextUpdate), so a
 * connection opened before the CRL refresh stopped (store unreachable) is refused like new ones.
 */
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { GatehouseError, isGatehouseError } from '../core/errors.ts';
import type { Identity } from '../gateway/context.ts';
import type { Principal } from './types.ts';
import type { OnInvalidate, PrincipalLookup } from './types.ts';

/**
 * Verifies a peer certificate and returns its SPIFFE id, and until when that verdict holds
 * (default: the certificate's notAfter); throws (any error) when it is not acceptable.
 * Wire: `(cert) => verifyPeer(cert, trustStore)`.
 */
export type ClientCertificateVerifier = (certificate: X509Certificate) => { spiffeId: string; validUntil?: Date };

export interface MtlsAuthenticatorOptions {
  verify: ClientCertificateVerifier;
  /**
   * The trust `verify` judges against (roots and CRLs), read on every request: a connection
   * verified under other trust is verified again. Wire to the CRL watcher's current TrustStore.
   * Absent: a connection is verified once, for as long as its certificate is valid.
   */
  trust?: (() => unknown) | undefined;
  principals: PrincipalLookup;
  onInvalidate: OnInvalidate;
}

interface CachedPeer { identity: Identity; generation: number; notAfter: number; trust: unknown }

function isTls(socket: Socket): socket is TLSSocket {
  return 'encrypted' in socket && (socket as TLSSocket).encrypted === true;
}

/**
 * The principal a verified workload certificate names. A certificate from Gatehouse's CA is
 * itself the proof of identity (issued against a one-time bootstrap token for exactly that
 * SPIFFE id, short-lived, revocable through the CRL), so a workload needs no account: it is
 * the service `spiffe://…` with no roles, and policy names it by that id. If the directory
 * does know the id (an operator registered it to give it roles), its entry must be enabled.
 */
async function workloadPrincipal(lookup: PrincipalLookup, spiffeId: string): Promise<Principal> {
  let principal: Principal | undefined;
  try {
    principal = await lookup.getPrincipal(spiffeId);
  } catch (error) {
    throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', { detail: `principal lookup failed for ${spiffeId}`, cause: error });
  }
  if (principal === undefined) return { subject: spiffeId, kind: 'service', roles: [], disabled: false, attributes: {} };
  if (principal.disabled) throw new GatehouseError('ERR_AUTHN_PRINCIPAL_DISABLED', { detail: `principal ${spiffeId} is disabled` });
  return principal;
}

export class MtlsAuthenticator {
  readonly #o: MtlsAuthenticatorOptions;
  readonly #byConnection = new WeakMap<TLSSocket, CachedPeer>();
  #generation = 0;
  readonly #unsubscribe: () => void;

  constructor(options: MtlsAuthenticatorOptions) {
    this.#o = options;
    this.#unsubscribe = options.onInvalidate((event) => {
      if (event.type === 'principal.changed') this.#generation++;
    });
  }

  /** The connection's client certificate, if it presented one. */
  static peerCertificate(socket: Socket): X509Certificate | undefined {
    return isTls(socket) ? socket.getPeerX509Certificate() : undefined;
  }

  cached(socket: Socket, nowMs = Date.now()): Identity | undefined {
    if (!isTls(socket)) return undefined;
    const entry = this.#byConnection.get(socket);
    if (entry === undefined || entry.generation !== this.#generation || entry.notAfter <= nowMs) return undefined;
    // Identity comparison: the CRL watcher builds a new TrustStore only when the CRL changed.
    if (this.#o.trust !== undefined && entry.trust !== this.#o.trust()) return undefined;
    return entry.identity;
  }

  async authenticate(socket: Socket, certificate: X509Certificate): Promise<Identity> {
    const generation = this.#generation;
    // Read before verifying: if the trust changes in between, the next request verifies again.
    const trust = this.#o.trust?.();
    let spiffeId: string;
    let validUntil = certificate.validToDate.getTime();
    try {
      const verdict = this.#o.verify(certificate);
      spiffeId = verdict.spiffeId;
      if (verdict.validUntil !== undefined) validUntil = Math.min(validUntil, verdict.validUntil.getTime());
    } catch (error) {
      throw new GatehouseError('ERR_AUTHN_CLIENT_CERT_INVALID', {
        detail: isGatehouseError(error) ? `${error.code}: ${error.detail ?? ''}` : String(error),
        cause: error,
      });
    }
    const principal = await workloadPrincipal(this.#o.principals, spiffeId);
    const identity: Identity = Object.freeze({
      subject: principal.subject,
      kind: principal.kind,
      roles: Object.freeze([...principal.roles]),
      method: 'mtls',
      amr: Object.freeze([]),
      authTime: undefined,
      mfaTime: undefined,
      credentialId: certificate.serialNumber,
      issuer: undefined,
      attributes: Object.freeze({ ...principal.attributes, spiffeId }),
      expiresAt: validUntil,
    });
    if (isTls(socket)) this.#byConnection.set(socket, { identity, generation, notAfter: validUntil, trust });
    return identity;
  }

  close(): void { this.#unsubscribe(); }
}
