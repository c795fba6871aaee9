/**
 * The two CA certificates: a self-signed root (path length 1) and an intermediate it signs
 * (path length 0), which issues every workload certificate and CRL. Keeping the root apart
 * lets an operator take its key offline while the CA keeps working.
 */
import { webcrypto } from 'node:crypto';
import { caAlgorithm, type CaKeyAlgorithm } from './algorithms.ts';
import { randomSerial } from './serial.ts';
import { x509 } from './x509.ts';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;
type LibKey = Parameters<typeof x509.X509CertificateGenerator.create>[0] extends { signingKey: infer K } ? K : never;
type LibKeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

const DAY = 86_400_000;

/** Generates an extractable CA key pair (extractable so it can be sealed and stored). */
export async function generateCaKeyPair(kind: CaKeyAlgorithm): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(caAlgorithm(kind), true, ['sign', 'verify']);
}

function caName(trustDomain: string, role: string): x509.JsonName {
  return [{ O: [`Gatehouse ${trustDomain}`] }, { CN: [`Gatehouse ${role} CA`] }];
}

export interface CreateRootParams {
  keys: CryptoKeyPair;
  kind: CaKeyAlgorithm;
  trustDomain: string;
  now: Date;
  lifetimeDays: number;
  /**
   * Common name; default `Gatehouse Root CA`. A rotated root gets a name of its own: while
   * both are trusted, OpenSSL looks issuers and CRLs up by name first.
   */
  commonName?: string;
}

/** Self-signed root CA certificate. */
export async function createRootCertificate(p: CreateRootParams): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: p.commonName ? [{ O: [`Gatehouse ${p.trustDomain}`] }, { CN: [p.commonName] }] : caName(p.trustDomain, 'Root'),
    notBefore: p.now,
    notAfter: new Date(p.now.getTime() + p.lifetimeDays * DAY),
    keys: p.keys as unknown as LibKeyPair,
    signingAlgorithm: caAlgorithm(p.kind),
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(p.keys.publicKey as unknown as LibKey),
    ],
  });
}

export interface CreateIntermediateParams {
  publicKey: CryptoKey;
  root: x509.X509Certificate;
  rootKey: CryptoKey;
  kind: CaKeyAlgorithm;
  trustDomain: string;
  now: Date;
  lifetimeDays: number;
  /**
   * Common name; default `Gatehouse Intermediate CA`. Rotated intermediates get a name of
   * their own: OpenSSL finds a certificate's issuer and CRL by name first, and two live
   * intermediates with one name leave that to the key identifiers alone.
   */
  commonName?: string;
}

/** Intermediate CA certificate signed by the root. */
export async function createIntermediateCertificate(p: CreateIntermediateParams): Promise<x509.X509Certificate> {
  const rootSki = p.root.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!rootSki) throw new Error('root certificate has no subject key identifier');
  const notAfter = Math.min(p.now.getTime() + p.lifetimeDays * DAY, p.root.notAfter.getTime());
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: p.commonName ? [{ O: [`Gatehouse ${p.trustDomain}`] }, { CN: [p.commonName] }] : caName(p.trustDomain, 'Intermediate'),
    issuer: p.root.subjectName,
    notBefore: p.now,
    notAfter: new Date(notAfter),
    publicKey: p.publicKey as unknown as LibKey,
    signingKey: p.rootKey as unknown as LibKey,
    signingAlgorithm: caAlgorithm(p.kind),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(p.publicKey as unknown as LibKey),
      new x509.AuthorityKeyIdentifierExtension(rootSki.keyId),
    ],
  });
}
