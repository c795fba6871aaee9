/**
 * TLS options for both ends of an mTLS hop, built from a workload's material and the
 * current trust (roots, intermediates, CRLs). Rebuild them whenever either changes: a
 * secure context is immutable, and servers swap in a new one with `setSecureContext()`.
 */
import type { ConnectionOptions, SecureContextOptions, TlsOptions } from 'node:tls';
import type { TrustStore } from '../trust-store.ts';
import { spiffeServerIdentityCheck, type SpiffeIdentityPolicy } from './check-server-identity.ts';
import type { TlsMaterial } from './tls-material.ts';

/**
 * Key, chain, trust bundle and CRLs. The intermediates are in `ca` as well because peers
 * (openssl s_client, many clients) send only their leaf; verification still has to end at
 * one of our self-signed roots.
 */
export function secureContextOptions(material: TlsMaterial, trust: TrustStore): SecureContextOptions {
  return {
    key: material.keyPem,
    cert: material.chainPem,
    ca: trust.bundlePem + trust.intermediatesPem,
    // With a CRL, Node makes OpenSSL check revocation for every certificate in the chain.
    crl: [...trust.crlPems],
    minVersion: 'TLSv1.2',
  };
}

/**
 * Options for a `tls`/`https` server that asks every client for a certificate.
 *
 * `rejectUnauthorized` is false so that the handshake completes far enough for
 * {@link MtlsServerGuard} to learn *why* a certificate is bad (expired, revoked, unknown
 * CA…) and report it; the guard then closes the connection before any byte of a request
 * is read. Use these options only together with `MtlsServerGuard.attach(server)`.
 */
export function mtlsServerOptions(material: TlsMaterial, trust: TrustStore): TlsOptions {
  return { ...secureContextOptions(material, trust), requestCert: true, rejectUnauthorized: false };
}

/**
 * Options for `tls.connect` or undici's `connect` (`new Agent({ connect })`): presents our
 * certificate, trusts only our roots (with CRLs) and accepts the server only if its SPIFFE
 * id matches the policy. The host name is checked too unless `checkHostname` is false
 * (SPIFFE id alone, for upstreams addressed by IP or service discovery name).
 *
 * @example
 *   const agent = new Agent({ connect: mtlsClientOptions(material, trust, { expectedSpiffeId: 'spiffe://td/svc/mail' }) });
 */
export function mtlsClientOptions(material: TlsMaterial, trust: TrustStore | (() => TrustStore), policy: SpiffeIdentityPolicy, options: { checkHostname?: boolean } = {}): ConnectionOptions {
  const current = typeof trust === 'function' ? trust() : trust;
  return {
    ...secureContextOptions(material, current),
    rejectUnauthorized: true,
    checkServerIdentity: spiffeServerIdentityCheck(trust, policy, options),
  };
}
