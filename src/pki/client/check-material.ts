/**
 * Checks a key and certificate chain before a workload uses them — whether they came from
 * the CA a moment ago or from disk after a restart: the leaf matches the private key, names
 * exactly the expected SPIFFE id, chains to the trust bundle, is within its validity and not
 * revoked. The facts in the returned material are read from the certificate itself, not
 * from what the CA's JSON claimed.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { GatehouseError, toGatehouseError } from '../../core/errors.ts';
import type { ErrorCode } from '../../core/error-codes.ts';
import type { TlsMaterial } from '../mtls/tls-material.ts';
import { verifyPeer } from '../mtls/verify-peer.ts';
import type { TrustStore } from '../trust-store.ts';

const CERT_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * @param code the code to throw when the material is unusable (differs for a CA answer and a stored file).
 * @throws GatehouseError with `code`; its `data.reason` is the peer-verification code (e.g. ERR_PKI_PEER_CERT_EXPIRED).
 */
export function checkMaterial(keyPem: string, chainPem: string, spiffeId: string, trust: TrustStore, code: ErrorCode, now: Date = new Date()): TlsMaterial {
  const leafPem = chainPem.match(CERT_PEM)?.[0];
  if (!leafPem) throw new GatehouseError(code, { detail: 'no certificate in the chain' });
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the certificate is not for this private key');
  } catch (cause) {
    throw new GatehouseError(code, { detail: `key or certificate unusable: ${(cause as Error).message}`, cause });
  }
  try {
    // 'server': our certificates are used for both ends; the CA grants both usages.
    const peer = verifyPeer(leaf, trust, { expectedSpiffeId: spiffeId, purpose: 'server', now });
    verifyPeer(leaf, trust, { expectedSpiffeId: spiffeId, purpose: 'client', now });
    return { keyPem, chainPem, spiffeId: peer.spiffeId, serial: peer.serial, notBefore: peer.notBefore, notAfter: peer.notAfter };
  } catch (cause) {
    const e = toGatehouseError(cause);
    throw new GatehouseError(code, { detail: `certificate not usable: ${e.message}`, cause, data: { reason: e.code } });
  }
}
