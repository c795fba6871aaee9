/**
 * Application-level verification of a peer certificate against Gatehouse's trust:
 * chain to a trusted root through a known intermediate, validity at `now`, not revoked,
 * a leaf (CA:false) with the right extended key usage, and exactly one SPIFFE URI SAN in
 * our trust domain that the caller accepts. Revocation is judged only with current CRLs: past
 * the trust's earliest CRL nextUpdate (the store unreachable for that long), every peer is
 * refused, as OpenSSL refuses them in a handshake with the same CRLs.
 *
 * TLS already checks most of this during the handshake when the secure context carries
 * our bundle and CRLs; this function is for what TLS cannot know (which SPIFFE ids are
 * acceptable) and for certificates that arrive outside a handshake (renewal, forwarded
 * client certificates). It never trusts fields it did not verify.
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { GatehouseError } from '../../core/errors.ts';
import type { ErrorCode } from '../../core/error-codes.ts';
import { parseSpiffeId, type SpiffeId } from '../spiffe.ts';
import { normalizeSerial } from '../serial.ts';
import type { TrustStore } from '../trust-store.ts';
import { x509 } from '../x509.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export interface VerifyPeerOptions {
  /** The one SPIFFE id accepted. */
  expectedSpiffeId?: string;
  /** SPIFFE ids accepted (a list, or a predicate). */
  allowedSpiffeIds?: readonly string[] | ((spiffeId: string) => boolean);
  /** What the peer uses the certificate for; checked against its extended key usage. Default 'client'. */
  purpose?: 'client' | 'server';
  now?: Date;
}

export interface VerifiedPeer {
  spiffe: SpiffeId;
  spiffeId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
  /**
   * Until when this verdict holds without new trust: the certificate's notAfter or the CRLs'
   * nextUpdate, whichever comes first. A caller that caches the verdict must not use it later.
   */
  validUntil: Date;
}

export type PeerCertificateInput = X509Certificate | Uint8Array | string | Pick<PeerCertificate, 'raw'>;

function refuse(code: ErrorCode, detail: string, data?: Record<string, unknown>): GatehouseError {
  return new GatehouseError(code, { detail, ...(data ? { data } : {}) });
}

function toX509(input: PeerCertificateInput | undefined | null): X509Certificate {
  if (input === undefined || input === null) throw refuse('ERR_PKI_PEER_CERT_MISSING', 'no certificate presented');
  if (input instanceof X509Certificate) return input;
  try {
    if (typeof input === 'string' || input instanceof Uint8Array) return new X509Certificate(input);
    if (input.raw && input.raw.length > 0) return new X509Certificate(input.raw);
  } catch (cause) {
    throw new GatehouseError('ERR_PKI_PEER_CERT_UNTRUSTED', { detail: 'certificate does not parse', cause });
  }
  throw refuse('ERR_PKI_PEER_CERT_MISSING', 'no certificate presented');
}

function within(cert: X509Certificate, now: number): boolean {
  return cert.validFromDate.getTime() <= now && now <= cert.validToDate.getTime();
}

/** Reads the SAN extension with a real ASN.1 parser (node's text form is ambiguous). */
function subjectAltNames(cert: X509Certificate): x509.JsonGeneralNames {
  const parsed = new x509.X509Certificate(cert.raw);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  return san ? san.names.toJSON() : [];
}

/**
 * Verifies a peer certificate; returns the verified identity.
 *
 * @throws GatehouseError ERR_PKI_PEER_CERT_MISSING | ERR_PKI_PEER_CERT_UNTRUSTED |
 *   ERR_PKI_PEER_CERT_EXPIRED | ERR_PKI_PEER_CERT_REVOKED | ERR_PKI_PEER_IDENTITY_MISMATCH
 *
 * @example
 *   const peer = verifyPeer(socket.getPeerCertificate(), trust, { allowedSpiffeIds: ['spiffe://td/svc/mail'] });
 */
export function verifyPeer(input: PeerCertificateInput | undefined | null, trust: TrustStore, options: VerifyPeerOptions = {}): VerifiedPeer {
  const leaf = toX509(input);
  const now = (options.now ?? new Date()).getTime();
  const serial = normalizeSerial(leaf.serialNumber) ?? leaf.serialNumber;

  if (leaf.ca) throw refuse('ERR_PKI_PEER_CERT_UNTRUSTED', 'a CA certificate is not a workload identity', { serial });
  const intermediate = trust.intermediates.find((i) => i.ca && leaf.checkIssued(i) && leaf.verify(i.publicKey));
  if (!intermediate) throw refuse('ERR_PKI_PEER_CERT_UNTRUSTED', `issuer ${JSON.stringify(leaf.issuer)} is not a trusted intermediate (or the signature does not verify)`, { serial });
  const root = trust.roots.find((r) => r.ca && intermediate.checkIssued(r) && intermediate.verify(r.publicKey));
  if (!root) throw refuse('ERR_PKI_PEER_CERT_UNTRUSTED', 'intermediate does not chain to a trusted root', { serial });

  if (!within(leaf, now)) throw refuse('ERR_PKI_PEER_CERT_EXPIRED', `certificate valid ${leaf.validFrom} – ${leaf.validTo}`, { serial });
  if (!within(intermediate, now) || !within(root, now)) throw refuse('ERR_PKI_PEER_CERT_EXPIRED', 'a CA certificate in the chain is outside its validity', { serial });

  // Stale revocation data cannot show a revocation made since: fail closed, as OpenSSL does.
  const crlNextUpdate = trust.crlNextUpdate?.getTime();
  if (crlNextUpdate !== undefined && now > crlNextUpdate) {
    throw refuse('ERR_PKI_PEER_CERT_UNTRUSTED', `the CRLs in force expired at ${new Date(crlNextUpdate).toISOString()}; revocation cannot be checked`, { serial });
  }
  if (trust.isRevoked(serial)) throw refuse('ERR_PKI_PEER_CERT_REVOKED', `serial ${serial} is revoked`, { serial });
  if (trust.isRevoked(intermediate.serialNumber)) throw refuse('ERR_PKI_PEER_CERT_REVOKED', 'the issuing intermediate is revoked', { serial });

  const eku = leaf.keyUsage ?? [];
  const wanted = (options.purpose ?? 'client') === 'server' ? SERVER_AUTH : CLIENT_AUTH;
  if (!eku.includes(wanted)) throw refuse('ERR_PKI_PEER_CERT_UNTRUSTED', `extended key usage lacks ${wanted}`, { serial });

  let names: x509.JsonGeneralNames;
  try {
    names = subjectAltNames(leaf);
  } catch (cause) {
    throw new GatehouseError('ERR_PKI_PEER_CERT_UNTRUSTED', { detail: 'subjectAltName does not parse', cause, data: { serial } });
  }
  const uris = names.filter((n) => n.type === 'url').map((n) => n.value);
  if (uris.length !== 1) throw refuse('ERR_PKI_PEER_IDENTITY_MISMATCH', `expected exactly one URI SAN, found ${uris.length}`, { serial });
  let spiffe: SpiffeId;
  try {
    spiffe = parseSpiffeId(uris[0]!, trust.trustDomain);
  } catch (cause) {
    throw new GatehouseError('ERR_PKI_PEER_IDENTITY_MISMATCH', { detail: 'URI SAN is not a SPIFFE id of our trust domain', cause, data: { serial } });
  }
  const accepted = options.expectedSpiffeId !== undefined
    ? spiffe.uri === options.expectedSpiffeId
    : options.allowedSpiffeIds === undefined
      ? true
      : typeof options.allowedSpiffeIds === 'function' ? options.allowedSpiffeIds(spiffe.uri) : options.allowedSpiffeIds.includes(spiffe.uri);
  if (!accepted) throw refuse('ERR_PKI_PEER_IDENTITY_MISMATCH', `SPIFFE id ${spiffe.uri} is not accepted here`, { serial, spiffeId: spiffe.uri });

  return {
    spiffe, spiffeId: spiffe.uri, serial,
    notBefore: leaf.validFromDate, notAfter: leaf.validToDate,
    validUntil: new Date(Math.min(leaf.validToDate.getTime(), crlNextUpdate ?? Number.POSITIVE_INFINITY)),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
  };
}
