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
  /**
   * The earliest nextUpdate of the CRLs (undefined without CRLs). After it, revocation can no
   * longer be judged: OpenSSL refuses every peer, and so does `verifyPeer`.
   */
  readonly crlNextUpdate: Date | undefined;
  readonly #revoked: ReadonlySet<string>;

  constructor(init: TrustStoreInit) {
    this.trustDomain = init.trustDomain;
    this.roots = init.rootPems.flatMap(splitPem).map((p) => new X509Certificate(p));
    this.intermediates = init.intermediatePems.flatMap(splitPem).map((p) => new X509Certificate(p));
    this.bundlePem = this.roots.map((c) => c.toString()).join('');
    this.intermediatesPem = this.intermediates.map((c) => c.toString()).join('');
    this.crlPems = [...init.crlPems];
    const revoked = new Set<string>();
    let nextUpdate: Date | undefined;
    for (const pem of init.crlPems) {
      // Signature and issuer of each CRL were checked by whoever built or loaded it
      // (CertificateAuthority / CrlWatcher); here they only feed the lookup set.
      const crl = new x509.X509Crl(pem);
      // A CRL without nextUpdate never goes stale (RFC 5280 asks for one; ours always have it).
      if (crl.nextUpdate && (!nextUpdate || crl.nextUpdate < nextUpdate)) nextUpdate = crl.nextUpdate;
      for (const entry of crl.entries) {
        const serial = normalizeSerial(entry.serialNumber);
        if (serial) revoked.add(serial);
      }
    }
    this.#revoked = revoked;
    this.crlNextUpdate = nextUpdate;
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
