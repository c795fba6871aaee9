/**
 * The workload certificate (an X.509-SVID): one SPIFFE URI SAN plus the allowed DNS/IP SANs,
 * CA:false (critical), digitalSignature (+ keyEncipherment for RSA keys, which TLS 1.2 RSA
 * key exchange needs), serverAuth + clientAuth so the same certificate serves both ends of
 * an mTLS hop, SKI/AKI, and the CRL distribution point.
 */
import type { webcrypto } from 'node:crypto';
import type { SubjectKeyKind } from './algorithms.ts';
import type { SpiffeId } from './spiffe.ts';
import { x509 } from './x509.ts';

type LibKey = Parameters<typeof x509.X509CertificateGenerator.create>[0] extends { signingKey: infer K } ? K : never;

export interface LeafCertificateParams {
  serial: string;
  spiffe: SpiffeId;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  publicKey: x509.PublicKey;
  keyKind: SubjectKeyKind;
  notBefore: Date;
  notAfter: Date;
  issuer: x509.X509Certificate;
  issuerKey: webcrypto.CryptoKey;
  signingAlgorithm: webcrypto.EcdsaParams;
  crlUrl: string;
}

/** Signs a workload certificate with the intermediate. */
export async function createLeafCertificate(p: LeafCertificateParams): Promise<x509.X509Certificate> {
  const issuerSki = p.issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!issuerSki) throw new Error('issuer certificate has no subject key identifier');
  let usages = x509.KeyUsageFlags.digitalSignature;
  if (p.keyKind === 'RSA') usages |= x509.KeyUsageFlags.keyEncipherment;
  const sans: x509.JsonGeneralNames = [
    { type: 'url', value: p.spiffe.uri },
    ...p.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...p.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  return x509.X509CertificateGenerator.create({
    serialNumber: p.serial,
    // The subject is informative only; relying parties must use the URI SAN.
    subject: [{ O: [p.spiffe.trustDomain] }, { OU: [p.spiffe.kind] }, { CN: [p.spiffe.name] }],
    issuer: p.issuer.subjectName,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey: p.publicKey,
    signingKey: p.issuerKey as unknown as LibKey,
    signingAlgorithm: p.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(p.publicKey),
      new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId),
      new x509.SubjectAlternativeNameExtension(sans, false),
      new x509.CRLDistributionPointsExtension([p.crlUrl], false),
    ],
  });
}
