/**
 * Signing a workload certificate once the identity is established (by the caller, a bootstrap
 * token or a renewal): the checks every path shares, the signature, and the record kept of it.
 */
import { GatehouseError } from '../core/errors.ts';
import { caAlgorithm } from './algorithms.ts';
import type { CaContext } from './ca-context.ts';
import type { SigningIntermediate } from './ca-material.ts';
import type { IssuedCertificate, IssueOptions } from './certificate-requests.ts';
import { issuerCrlUrl } from './crl-distribution-point.ts';
import type { ParsedCsr } from './csr.ts';
import { emitSafely } from './events.ts';
import { intermediateExpiredError, MIN_ISSUING_SECONDS } from './intermediate-expiry.ts';
import { createLeafCertificate } from './leaf-certificate.ts';
import type { CertificateRecord } from './repository.ts';
import { normalizeSerial, randomSerial } from './serial.ts';
import type { SpiffeId } from './spiffe.ts';

const MIN_LEAF_SECONDS = MIN_ISSUING_SECONDS;

export function checkKind(ca: CaContext, spiffe: SpiffeId): void {
  if (!ca.config.kinds.includes(spiffe.kind)) {
    throw new GatehouseError('ERR_PKI_SPIFFE_ID_INVALID', { detail: `kind ${spiffe.kind} is not one of ${ca.config.kinds.join(', ')}` });
  }
}

/** The requested (or default) lifetime in seconds, checked against the configured bounds. */
export function leafLifetime(ca: CaContext, options: IssueOptions): number {
  const lifetime = options.lifetimeSeconds ?? ca.config.leafLifetimeSeconds;
  if (!Number.isInteger(lifetime) || lifetime < MIN_LEAF_SECONDS || lifetime > ca.config.maxLeafLifetimeSeconds) {
    throw new GatehouseError('ERR_PKI_LIFETIME_INVALID', { detail: `lifetime ${lifetime}s outside ${MIN_LEAF_SECONDS}..${ca.config.maxLeafLifetimeSeconds}` });
  }
  return lifetime;
}

export async function signLeaf(ca: CaContext, csr: ParsedCsr, spiffe: SpiffeId, allowed: { dnsNames: readonly string[]; ipAddresses: readonly string[] }, via: CertificateRecord['issuedVia'], options: IssueOptions, previousSerial?: string): Promise<IssuedCertificate> {
  for (const uri of csr.uris) {
    if (uri !== spiffe.uri) throw new GatehouseError('ERR_PKI_IDENTITY_NOT_ALLOWED', { detail: `CSR asks for URI ${JSON.stringify(uri.slice(0, 300))}, identity is ${spiffe.uri}` });
  }
  const dnsDenied = csr.dnsNames.filter((n) => !allowed.dnsNames.includes(n));
  const ipDenied = csr.ipAddresses.filter((n) => !allowed.ipAddresses.includes(n));
  if (dnsDenied.length > 0 || ipDenied.length > 0) {
    throw new GatehouseError('ERR_PKI_IDENTITY_NOT_ALLOWED', { detail: `names not allowed for ${spiffe.uri}: ${[...dnsDenied, ...ipDenied].join(', ')}` });
  }
  const lifetime = leafLifetime(ca, options);
  const now = ca.clock();
  const notBefore = new Date(now.getTime() - ca.config.backdateSeconds * 1000);
  // Never outlive the issuer: a chain with an expired intermediate fails everywhere.
  const tooSoon = (i: SigningIntermediate) => i.cert.notAfter.getTime() - now.getTime() < MIN_LEAF_SECONDS * 1000;
  // Rotated since this instance last looked? Then the new intermediate issues.
  if (tooSoon(ca.material.state.issuing)) await ca.material.reload();
  const issuer = ca.material.state.issuing;
  if (tooSoon(issuer)) throw intermediateExpiredError(ca.material.issuingIntermediate, now);
  const notAfter = new Date(Math.min(now.getTime() + lifetime * 1000, issuer.cert.notAfter.getTime()));
  const serial = randomSerial();
  const cert = await createLeafCertificate({
    serial, spiffe, dnsNames: csr.dnsNames, ipAddresses: csr.ipAddresses,
    publicKey: csr.publicKey, keyKind: csr.keyKind, notBefore, notAfter,
    issuer: issuer.cert, issuerKey: issuer.key,
    signingAlgorithm: caAlgorithm(issuer.algorithm), crlUrl: issuerCrlUrl(ca.config.crl.path, ca.publicUrl, issuer.keyId),
  });
  const certificatePem = cert.toString('pem') + '\n';
  // Stored before it is handed out, so a certificate in the wild is always on record (and revocable).
  await ca.repo.insertCertificate({
    serial: normalizeSerial(serial)!, spiffeId: spiffe.uri, dnsNames: csr.dnsNames, ipAddresses: csr.ipAddresses,
    notBefore, notAfter, certPem: certificatePem, issuedVia: via, createdAt: now, revokedAt: null, revocationReason: null,
    renewedFrom: previousSerial ?? null,
  });
  const issued: IssuedCertificate = {
    serial: normalizeSerial(serial)!, spiffeId: spiffe.uri, notBefore, notAfter, certificatePem,
    chainPem: certificatePem + issuer.pem, trustBundlePem: ca.material.state.anchors.bundlePem,
  };
  ca.logger?.info({ serial: issued.serial, spiffeId: spiffe.uri, via, notAfter }, 'certificate issued');
  emitSafely(ca.onEvent, { type: 'pki.certificate.issued', serial: issued.serial, spiffeId: spiffe.uri, via, notAfter: notAfter.toISOString(), ...(previousSerial ? { previousSerial } : {}) });
  return issued;
}
