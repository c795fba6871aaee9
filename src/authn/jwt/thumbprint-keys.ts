/**
 * `x5t#S256` key strategy: the header names one certificate of a configured trust store by its
 * SHA-256 thumbprint (RFC 7515 §4.1.8); its public key verifies the token.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../../core/errors.ts';
import type { KeyResolver } from './key-resolver.ts';
import { splitPemCertificates } from './pem.ts';
import { allowsDigitalSignature } from './key-usage.ts';

/** base64url SHA-256 of the DER certificate, as `x5t#S256` carries it. */
export function certificateThumbprint(cert: X509Certificate): string {
  return Buffer.from(cert.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url');
}

/** Creates a resolver over the certificates in `pems` (each a PEM text with one or more certificates). */
export function createThumbprintKeys(pems: readonly string[]): KeyResolver {
  const byThumbprint = new Map<string, { key: KeyObject; cert: X509Certificate }>();
  for (const pem of pems) {
    for (const block of splitPemCertificates(pem)) {
      const cert = new X509Certificate(block);
      if (!allowsDigitalSignature(cert)) {
        throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `x5t#S256 trust store: certificate "${cert.subject}" may not sign (key usage without digitalSignature)` });
      }
      byThumbprint.set(certificateThumbprint(cert), { key: cert.publicKey, cert });
    }
  }
  return async (header) => {
    const thumbprint = header['x5t#S256'];
    const entry = typeof thumbprint === 'string' ? byThumbprint.get(thumbprint) : undefined;
    if (entry === undefined) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_KEY_UNKNOWN', { detail: `x5t#S256 ${JSON.stringify(thumbprint)} not in the trust store` });
    }
    const now = Date.now();
    if (entry.cert.validFromDate.getTime() > now || entry.cert.validToDate.getTime() < now) {
      throw new GatehouseError('ERR_AUTHN_TOKEN_KEY_UNKNOWN', { detail: `trusted certificate ${thumbprint} is outside its validity period` });
    }
    return entry.key;
  };
}
