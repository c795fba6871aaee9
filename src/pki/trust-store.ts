/**
 * What a relying party needs to judge a peer certificate: the trust bundle (roots), the
 * intermediates, and the current revocation lists. Immutable; a refresh builds a new one,
 * so a verification never sees half an update.
 */
import { X509Certificate } from 'node:crypto';
import { normalizeSerial } from './serial.ts';
import { x509 } from './x509.ts';

export interface TrustStoreInit {
  trustDomain: string;
  rootPems: readonly string[];
  intermediatePems: readonly string[];
  /** PEM CRLs: the intermediate's (workload revocations) and the root's (intermediate revocations). */
  crlPems: readonly string[];
}

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export class TrustStore {
  readonly trustDomain: string;
  readonly roots: readonly X509Certificate[];
  readonly intermediates: readonly X509Certificate[];
  readonly crlPems: readonly string[];
  /** Concatenated root certificates, for `ca` in TLS options. */
  readonly bundlePem: string;
  /** Concatenated intermediate certificates, sent after a leaf in a chain. */
  readonly intermediatesPem: string;
  readonly #revoked: ReadonlySet<string>;

  constructor(init: TrustStoreInit) {
    this.trustDomain = init.trustDomain;
    this.roots = init.rootPems.flatMap(splitPem).map((p) => new X509Certificate(p));
    this.intermediates = init.intermediatePems.flatMap(splitPem).map((p) => new X509Certificate(p));
    this.bundlePem = this.roots.map((c) => c.toString()).join('');
    this.intermediatesPem = this.intermediates.map((c) => c.toString()).join('');
    this.crlPems = [...init.crlPems];
    const revoked = new Set<string>();
    for (const pem of init.crlPems) {
      // Signature and issuer of each CRL were checked by whoever built or loaded it
      // (CertificateAuthority / CrlWatcher); here they only feed the lookup set.
      for (const entry of new x509.X509Crl(pem).entries) {
        const serial = normalizeSerial(entry.serialNumber);
        if (serial) revoked.add(serial);
      }
    }
    this.#revoked = revoked;
  }

  /** True when the serial (any spelling) is on one of the CRLs. */
  isRevoked(serial: string): boolean {
    const normalized = normalizeSerial(serial);
    return normalized === undefined || this.#revoked.has(normalized);
  }

  /** A copy with other CRLs (same anchors). */
  withCrls(crlPems: readonly string[]): TrustStore {
    return new TrustStore({ trustDomain: this.trustDomain, rootPems: [this.bundlePem], intermediatePems: [this.intermediatesPem], crlPems });
  }
}
