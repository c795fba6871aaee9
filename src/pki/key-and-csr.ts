/**
 * The workload's key pair and CSR, made in this process with WebCrypto (the private key is
 * exported only as PKCS#8 PEM for TLS and the 0600 key file; it never leaves the process).
 * The CSR carries the SPIFFE id as its one URI SAN, plus any DNS/IP names asked for.
 */
import { webcrypto } from 'node:crypto';
import { x509 } from './x509.ts';

/** Key types a workload may use; the CA accepts both. */
export type WorkloadKeyAlgorithm = 'ECDSA-P256' | 'ECDSA-P384';

const PARAMS: Record<WorkloadKeyAlgorithm, { name: 'ECDSA'; namedCurve: string; hash: string }> = {
  'ECDSA-P256': { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  'ECDSA-P384': { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
};

type LibKeyPair = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'];

/** A fresh key pair and a CSR for it. */
export async function createKeyAndCsr(spiffeId: string, names: { dnsNames?: readonly string[]; ipAddresses?: readonly string[] } = {}, algorithm: WorkloadKeyAlgorithm = 'ECDSA-P256'): Promise<{ keyPem: string; csrPem: string }> {
  const params = PARAMS[algorithm];
  const keys = await webcrypto.subtle.generateKey(params, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys: keys as unknown as LibKeyPair,
    signingAlgorithm: params,
    extensions: [new x509.SubjectAlternativeNameExtension([
      { type: 'url', value: spiffeId },
      ...(names.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(names.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ])],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n', csrPem: csr.toString('pem') + '\n' };
}
