/**
 * Publishing and serving the CA's CRLs: one per trusted intermediate, all listing the same
 * entries, re-published when the newest is half expired, misses an intermediate or misses a
 * revocation.
 */
import { GatehouseError } from '../core/errors.ts';
import { caAlgorithm } from './algorithms.ts';
import type { CaContext } from './ca-context.ts';
import { buildCrl, crlRecordPems } from './crl-builder.ts';
import { emitSafely } from './events.ts';
import type { CrlRecord } from './repository.ts';
import { normalizeSerial } from './serial.ts';
import { x509 } from './x509.ts';

/** Of a CRL publication: the intermediates that signed it (key id → index of its DER) and the serials it lists. */
interface ParsedCrl {
  number: number;
  issuers: Map<string | undefined, number>;
  serials: Set<string | undefined>;
}

export class CrlPublisher {
  readonly #ca: CaContext;
  /** What the newest CRL seen says, parsed once per CRL number. */
  #parsedCrl: ParsedCrl | undefined;

  constructor(ca: CaContext) {
    this.#ca = ca;
  }

  /** `CertificateAuthority.publishCrl`: the next number, retried when another instance took it. */
  async publishCrl(): Promise<CrlRecord> {
    const { repo, config, clock, onEvent, material } = this.#ca;
    // A rotation elsewhere must not leave the new intermediate's certificates without a CRL.
    await material.reload();
    const state = material.state;
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = clock();
      const latest = await repo.latestCrl();
      // Entries stay until the certificate has expired for every host within the clock skew
      // the CA tolerates (backdateSeconds): a host whose clock lags still accepts it until then.
      const entries = await repo.listRevoked(new Date(now.getTime() - config.backdateSeconds * 1000));
      const number = (latest?.number ?? 0) + 1;
      const thisUpdate = new Date(now.getTime() - config.backdateSeconds * 1000);
      const nextUpdate = new Date(now.getTime() + config.crl.lifetimeSeconds * 1000);
      // Every intermediate signs the same entries: serials are unique across the CA (the
      // store's key), so a serial another intermediate issued matches nothing of this one's,
      // and no revocation depends on knowing which intermediate issued it.
      const [crl, ...previous] = await Promise.all([state.issuing, ...state.previous].map((i) => buildCrl({
        issuer: i.cert, signingKey: i.key, signingAlgorithm: caAlgorithm(i.algorithm), number, thisUpdate, nextUpdate, entries,
      })));
      const record: CrlRecord = {
        number, thisUpdate: crl!.thisUpdate, nextUpdate: crl!.nextUpdate!, der: new Uint8Array(crl!.rawData),
        previousDers: previous.map((c) => new Uint8Array(c.rawData)),
      };
      if (await repo.insertCrl(record)) {
        emitSafely(onEvent, { type: 'pki.crl.published', number, entries: entries.length, nextUpdate: record.nextUpdate.toISOString() });
        return record;
      }
    }
    throw new GatehouseError('ERR_STORE_CONFLICT', { detail: 'could not publish a CRL after 5 attempts' });
  }

  /** `CertificateAuthority.currentCrl`: the newest stored CRL while it is fit to serve, else a new one. */
  async currentCrl(): Promise<CrlRecord> {
    const latest = await this.#ca.repo.latestCrl();
    const now = this.#ca.clock().getTime();
    if (latest && now < latest.nextUpdate.getTime() - (this.#ca.config.crl.lifetimeSeconds * 1000) / 2
      && this.#coversEveryIntermediate(latest) && await this.#listsEveryRevocation(latest, now)) return latest;
    return this.publishCrl();
  }

  /**
   * `CertificateAuthority.currentCrlOf`: the current CRL signed by one trusted intermediate.
   *
   * Without a key id: the CRL behind the bare `pki.crl.path`, the distribution point of every
   * certificate issued before intermediates had their own. Those were issued by the intermediate
   * of `ca init`, which is the oldest trusted one until it expires; with one intermediate it is
   * the issuing one, as before. (Serving the issuing intermediate's CRL there broke every such
   * certificate at the first rotation.) docs/pki.md names the one case this misses.
   */
  async currentCrlOf(keyId?: string): Promise<{ der: Uint8Array; number: number; nextUpdate: Date } | undefined> {
    const crl = await this.currentCrl();
    const state = this.#ca.material.state;
    const signers = [state.issuing, ...state.previous];
    const wanted = keyId?.toLowerCase() ?? signers.at(-1)!.keyId.toLowerCase();
    if (!signers.some((s) => s.keyId.toLowerCase() === wanted)) return undefined;
    const index = this.#parse(crl).issuers.get(wanted);
    const der = index === undefined ? undefined : index === 0 ? crl.der : crl.previousDers[index - 1];
    return der && { der, number: crl.number, nextUpdate: crl.nextUpdate };
  }

  #parse(crl: CrlRecord): ParsedCrl {
    if (this.#parsedCrl?.number !== crl.number) {
      const parsed = crlRecordPems(crl).map((pem) => new x509.X509Crl(pem));
      this.#parsedCrl = {
        number: crl.number,
        issuers: new Map(parsed.map((c, i) => [c.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase(), i])),
        serials: new Set(parsed[0]!.entries.map((e) => normalizeSerial(e.serialNumber))),
      };
    }
    return this.#parsedCrl;
  }

  /**
   * True when the CRL set has one CRL by each intermediate this instance trusts. Not so when
   * it was published before a rotation (or by an instance that had not seen it yet): OpenSSL
   * then finds no CRL for the new intermediate's certificates and refuses them all.
   */
  #coversEveryIntermediate(crl: CrlRecord): boolean {
    const { issuers } = this.#parse(crl);
    const state = this.#ca.material.state;
    return [state.issuing, ...state.previous].every((i) => issuers.has(i.keyId.toLowerCase()));
  }

  /**
   * True when the CRL lists every revocation in the store. Not so when a revocation was saved
   * but its CRL could not be published (store hiccup, crash between the two): without this
   * check the revocation stayed unpublished until the CRL was half expired (minutes by
   * default, days at the longest lifetime).
   */
  async #listsEveryRevocation(crl: CrlRecord, now: number): Promise<boolean> {
    const { serials } = this.#parse(crl);
    // The cut-off publishCrl uses: entries leave the CRL once expired beyond the tolerated skew.
    const revoked = await this.#ca.repo.listRevoked(new Date(now - this.#ca.config.backdateSeconds * 1000));
    return revoked.every((r) => serials.has(r.serial));
  }
}
