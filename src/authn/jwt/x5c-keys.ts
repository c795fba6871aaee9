/**
 * `x5c` key strategy: the header carries a certificate chain (leaf first, RFC 7515 §4.1.6).
 * The chain must be unbroken, every certificate in its validity period, every issuer a CA, and
 * the last certificate must be — or be issued and signed by — one of the configured CAs.
 * The leaf must not be a CA and, when it states a key usage, must allow digitalSignature.
 * The leaf's own claims are never trusted on their own.
 */
import { X509Certificate } from 'node:crypto';
import { GatehouseError } from '../../core/errors.ts';
import type { KeyResolver } from './key-resolver.ts';
import { splitPemCertificates } from './pem.ts';
import { allowsDigitalSignature } from './key-usage.ts';

export interface X5cKeysOptions {
  /** PEM texts of the trusted CA certificates. */
  caPems: readonly string[];
  maxChainLength: number;
}

function untrusted(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED', { detail, cause });
}

function parseChain(x5c: unknown, max: number): X509Certificate[] {
  if (!Array.isArray(x5c) || x5c.length === 0) {
    throw new GatehouseError('ERR_AUTHN_TOKEN_KEY_UNKNOWN', { detail: 'x5c header missing or empty' });
  }
  if (x5c.length > max) throw untrusted(`x5c has ${x5c.length} certificates, more than ${max}`);
  return x5c.map((entry, i) => {
    // x5c is standard base64 (not base64url) DER.
    if (typeof entry !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(entry)) throw untrusted(`x5c[${i}] is not base64`);
    try {
      return new X509Certificate(Buffer.from(entry, 'base64'));
    } catch (error) {
      throw untrusted(`x5c[${i}] is not a certificate`, error);
    }
  });
}

function inValidity(cert: X509Certificate, now: number): boolean {
  return cert.validFromDate.getTime() <= now && now <= cert.validToDate.getTime();
}

/** True when `issuer` issued `subject` and its key verifies `subject`'s signature. */
function issuedBy(subject: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/** Creates a resolver that validates the token's `x5c` chain against the configured CAs. */
export function createX5cKeys(options: X5cKeysOptions): KeyResolver {
  const anchors = options.caPems.flatMap((pem) => splitPemCertificates(pem)).map((block) => new X509Certificate(block));
  if (anchors.length === 0) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'x5c key strategy has no CA certificates' });
  const anchorFingerprints = new Set(anchors.map((a) => a.fingerprint256));

  return async (header) => {
    const chain = parseChain(header.x5c, options.maxChainLength);
    const now = Date.now();
    const leaf = chain[0]!;
    if (leaf.ca) throw untrusted('x5c leaf is a CA certificate');
    if (!allowsDigitalSignature(leaf)) throw untrusted('x5c leaf key usage does not include digitalSignature');
    for (let i = 0; i < chain.length; i++) {
      const cert = chain[i]!;
      if (!inValidity(cert, now)) throw untrusted(`x5c[${i}] (${cert.subject}) is outside its validity period`);
      const next = chain[i + 1];
      if (next !== undefined && !issuedBy(cert, next)) throw untrusted(`x5c[${i}] is not issued by x5c[${i + 1}]`);
    }
    const last = chain[chain.length - 1]!;
    const rooted = anchorFingerprints.has(last.fingerprint256)
      || anchors.some((anchor) => inValidity(anchor, now) && issuedBy(last, anchor));
    if (!rooted) throw untrusted(`x5c chain ending in "${last.subject}" is not rooted in a trusted CA`);
    return leaf.publicKey;
  };
}
