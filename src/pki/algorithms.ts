/**
 * Key algorithms: what the CA signs with, and what it accepts in a CSR.
 */
import { GatehouseError } from '../core/errors.ts';
import type { webcrypto } from 'node:crypto';
import type { x509 } from './x509.ts';

type EcKeyGenParams = webcrypto.EcKeyGenParams;
type EcdsaParams = webcrypto.EcdsaParams;
type EcKeyImportParams = webcrypto.EcKeyImportParams;
type Algorithm = webcrypto.Algorithm;

export type CaKeyAlgorithm = 'ECDSA-P256' | 'ECDSA-P384';

/** The key types the CA makes for its roots and intermediates (`pki.keyAlgorithm`, `ca rotate-root --key-type`). */
export const CA_KEY_ALGORITHMS: readonly CaKeyAlgorithm[] = ['ECDSA-P256', 'ECDSA-P384'];

/**
 * The key type of a CA certificate's key, read from the certificate itself: a root rotation may
 * change the key type, and the CA then holds keys of both kinds (the replaced intermediates keep
 * signing CRLs), so no single setting can say how to import and sign with each one.
 * @throws GatehouseError ERR_PKI_KEY_UNSUPPORTED for a key the CA never makes
 */
export function caKeyAlgorithmOf(cert: x509.X509Certificate): CaKeyAlgorithm {
  const alg = cert.publicKey.algorithm as Algorithm & { namedCurve?: string };
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-256') return 'ECDSA-P256';
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-384') return 'ECDSA-P384';
  throw new GatehouseError('ERR_PKI_KEY_UNSUPPORTED', { detail: `CA certificate ${cert.subject} has a ${alg.name}${alg.namedCurve ? ` ${alg.namedCurve}` : ''} key, not one of ${CA_KEY_ALGORITHMS.join(', ')}` });
}

/**
 * Parses an operator's choice of CA key type (`--key-type`), case-insensitively.
 * @throws GatehouseError ERR_PKI_CA_KEY_TYPE_INVALID
 */
export function parseCaKeyAlgorithm(input: string): CaKeyAlgorithm {
  const found = CA_KEY_ALGORITHMS.find((a) => a.toLowerCase() === input.trim().toLowerCase());
  if (!found) throw new GatehouseError('ERR_PKI_CA_KEY_TYPE_INVALID', { publicMessage: `key type ${JSON.stringify(input.slice(0, 40))} is not one the CA makes: ${CA_KEY_ALGORITHMS.join(', ')}` });
  return found;
}

/** WebCrypto parameters to generate and sign with a CA key of the given kind. */
export function caAlgorithm(kind: CaKeyAlgorithm): EcKeyGenParams & EcdsaParams {
  return kind === 'ECDSA-P384'
    ? { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' }
    : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
}

/** WebCrypto parameters to import a PKCS#8 CA key of the given kind. */
export function caImportAlgorithm(kind: CaKeyAlgorithm): EcKeyImportParams {
  return { name: 'ECDSA', namedCurve: kind === 'ECDSA-P384' ? 'P-384' : 'P-256' };
}

/**
 * An odd RSA public exponent of at least 65537 (CA/Browser Forum baseline, NIST SP 800-89):
 * e = 3 invites the low-exponent attacks of broken padding implementations.
 */
function strongExponent(exponent: Uint8Array | undefined): boolean {
  if (!(exponent instanceof Uint8Array) || exponent.length === 0) return false;
  const e = BigInt(`0x${Buffer.from(exponent).toString('hex')}`);
  return e >= 65537n && e % 2n === 1n;
}

/** The kinds of subject keys the CA certifies. */
export type SubjectKeyKind = 'EC-P256' | 'EC-P384' | 'RSA' | 'Ed25519';

/**
 * Classifies a CSR's public key and refuses anything outside the accepted set:
 * EC P-256/P-384, RSA with a modulus of at least 2048 bits (at most 8192) and an odd public
 * exponent of at least 65537, Ed25519.
 * @throws GatehouseError ERR_PKI_KEY_UNSUPPORTED
 */
export function classifySubjectKey(publicKey: x509.PublicKey): SubjectKeyKind {
  const alg = publicKey.algorithm as Algorithm & { namedCurve?: string; modulusLength?: number; publicExponent?: Uint8Array };
  switch (alg.name) {
    case 'ECDSA':
    case 'ECDH':
      if (alg.namedCurve === 'P-256') return 'EC-P256';
      if (alg.namedCurve === 'P-384') return 'EC-P384';
      break;
    case 'RSASSA-PKCS1-v1_5':
    case 'RSA-PSS':
    case 'RSA-OAEP':
      if (typeof alg.modulusLength === 'number' && alg.modulusLength >= 2048 && alg.modulusLength <= 8192 && strongExponent(alg.publicExponent)) return 'RSA';
      break;
    case 'Ed25519':
      return 'Ed25519';
  }
  throw new GatehouseError('ERR_PKI_KEY_UNSUPPORTED', {
    detail: `subject key ${alg.name}${alg.namedCurve ? ` ${alg.namedCurve}` : ''}${alg.modulusLength ? ` ${alg.modulusLength} bits` : ''} is not EC P-256/P-384, RSA ≥ 2048 (e ≥ 65537) or Ed25519`,
  });
}
