/**
 * The running certificate authority: issues workload certificates from CSRs against a proof
 * of identity (bootstrap token or current certificate), revokes them, and publishes CRLs.
 * Its state lives in the shared store, so every instance opened on the same store and
 * master key acts as one CA.
 */
import { webcrypto } from 'node:crypto';
import type { Logger } from 'pino';
import type { PkiConfig } from '../core/config/pki-schema.ts';
import { GatehouseError, toGatehouseError } from '../core/errors.ts';
import { credentialDigest } from '../authn/refused-credential.ts';
import { caAlgorithm, caImportAlgorithm, caKeyAlgorithmOf, type CaKeyAlgorithm } from './algorithms.ts';
import { bootstrapTokenId, generateBootstrapToken, hashBootstrapToken } from './bootstrap-token.ts';
import { buildCrl, crlRecordPems, type RevocationReason } from './crl-builder.ts';
import { issuerCrlPath } from './crl-distribution-point.ts';
import { parseCsr, type ParsedCsr } from './csr.ts';
import { emitSafely, type PkiEventListener } from './events.ts';
import { unsealPrivateKey } from './key-sealing.ts';
import { createLeafCertificate } from './leaf-certificate.ts';
import { verifyPeer, type PeerCertificateInput } from './mtls/verify-peer.ts';
import { canonicalDnsName, canonicalIp } from './names.ts';
import type { BootstrapTokenQuery, BootstrapTokenRecord, CaRecord, CertificateQuery, CertificateRecord, CrlRecord, PkiRepository } from './repository.ts';
import { intermediateExpiredError, MIN_ISSUING_SECONDS } from './intermediate-expiry.ts';
import { rootsStillNeeded } from './root-rotation.ts';
import { normalizeSerial, randomSerial } from './serial.ts';
import { parseSpiffeId, type SpiffeId } from './spiffe.ts';
import { TrustStore } from './trust-store.ts';
import type { SubjectBlocks } from '../detect/subject-blocks.ts';
import { x509 } from './x509.ts';

export interface CertificateAuthorityOptions {
  repo: PkiRepository;
  masterKey: Uint8Array;
  config: PkiConfig;
  /** External origin (scheme://host[:port]) where the CRL is served; goes into every certificate. */
  publicUrl: string;
  logger?: Logger;
  onEvent?: PkiEventListener;
  /** Injectable clock (tests of expiry); defaults to the system clock. */
  clock?: () => Date;
  /**
   * Temporary blocks of identities (detection, `gatehouse alerts block --subject spiffe://…`):
   * renewal and bootstrap issuance refuse a blocked SPIFFE id, and refuse when the blocks cannot
   * be read. Internal issuance (`issue`: the gateway's own certificate, `cert issue`) is not
   * asked: whoever calls it holds the CA.
   */
  subjectBlocks?: SubjectBlocks;
}

/** What a workload receives: its certificate, the chain to send, and the bundle to trust. */
export interface IssuedCertificate {
  serial: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
  certificatePem: string;
  /** Leaf followed by the intermediate: what a TLS endpoint presents. */
  chainPem: string;
  /** Root certificate(s) to trust. */
  trustBundlePem: string;
}

export interface IssueOptions {
  /** Requested validity; default `pki.leafLifetimeSeconds`, at most `pki.maxLeafLifetimeSeconds`. */
  lifetimeSeconds?: number;
}

/** Who asked, as the HTTP API knows it: named in the refusal's event. */
export interface Requester {
  /** The client address (after trusted proxies, as the gateway determined it). */
  clientAddress?: string;
}

/** What a refusal's event adds about who asked and what it presented. */
interface RefusalContext {
  clientAddress?: string;
  refusedCredential?: string;
}

export interface InternalIssueRequest extends IssueOptions {
  csr: string | Uint8Array;
  spiffeId: string;
  /** DNS names the identity may have; the CSR may ask for any subset. */
  allowedDnsNames?: readonly string[];
  allowedIpAddresses?: readonly string[];
}

export interface CreateBootstrapTokenRequest {
  spiffeId: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  ttlSeconds?: number;
}

const MIN_LEAF_SECONDS = MIN_ISSUING_SECONDS;

/** An intermediate this instance can sign with. */
interface SigningIntermediate {
  cert: x509.X509Certificate;
  pem: string;
  key: webcrypto.CryptoKey;
  /** Subject key identifier (hex): matches the authority key identifier of its CRLs. */
  keyId: string;
  /** Its own key type: after a root rotation with `--key-type` the CA signs with keys of both kinds. */
  algorithm: CaKeyAlgorithm;
}

/**
 * The CA material as last read from the store. Replaced as a whole (never patched) when
 * `reload` finds a rotation, so one operation always signs and chains with one intermediate.
 */
interface CaState {
  record: CaRecord;
  issuing: SigningIntermediate;
  /** Previous intermediates that have not expired: trusted, sign CRLs, issue nothing. */
  previous: SigningIntermediate[];
  anchors: TrustStore;
  /** The CRLs of every trusted root (in force, pending, previous): each covers the intermediates it signed. */
  rootCrlPems: string[];
}

async function signingIntermediate(pem: string, sealed: string, masterKey: Uint8Array): Promise<SigningIntermediate> {
  const cert = new x509.X509Certificate(pem);
  const keyId = cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '';
  const kind = caKeyAlgorithmOf(cert);
  const pkcs8 = unsealPrivateKey(sealed, masterKey, 'intermediate');
  try {
    // Imported non-extractable: nothing in this process can read it back out.
    const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, caImportAlgorithm(kind), false, ['sign']);
    return { cert, pem, key, keyId, algorithm: kind };
  } finally {
    pkcs8.fill(0);
  }
}

async function loadState(ca: CaRecord, masterKey: Uint8Array, trustDomain: string, now: Date): Promise<CaState> {
  const issuing = await signingIntermediate(ca.intermediateCertPem, ca.intermediateKeySealed, masterKey);
  // An expired intermediate is left out: no certificate it issued outlives it.
  const previous = await Promise.all(ca.previousIntermediates
    .filter((p) => new x509.X509Certificate(p.certPem).notAfter.getTime() > now.getTime())
    .map((p) => signingIntermediate(p.certPem, p.keySealed, masterKey)));
  // Roots: the one in force; one prepared by `ca rotate-root` (trusted before it issues, so that
  // relying parties have it when it does); replaced ones while an intermediate they signed is trusted.
  const previousRoots = await rootsStillNeeded(ca.previousRoots, previous.map((p) => p.cert), now);
  const roots = [{ certPem: ca.rootCertPem, crlPem: ca.rootCrlPem }, ...(ca.pendingRoot ? [{ certPem: ca.pendingRoot.rootCertPem, crlPem: ca.pendingRoot.rootCrlPem }] : []), ...previousRoots];
  const rootCrlPems = roots.map((r) => r.crlPem);
  const anchors = new TrustStore({ trustDomain, rootPems: roots.map((r) => r.certPem), intermediatePems: [issuing.pem, ...previous.map((p) => p.pem)], crlPems: rootCrlPems });
  return { record: ca, issuing, previous, anchors, rootCrlPems };
}

/** Of a CRL publication: the intermediates that signed it (key id → index of its DER) and the serials it lists. */
interface ParsedCrl {
  number: number;
  issuers: Map<string | undefined, number>;
  serials: Set<string | undefined>;
}

function sameCa(a: CaRecord, b: CaRecord): boolean {
  return a.intermediateCertPem === b.intermediateCertPem && a.rootCrlPem === b.rootCrlPem && a.rootCertPem === b.rootCertPem
    && a.pendingRoot?.rootCertPem === b.pendingRoot?.rootCertPem
    && a.previousRoots.map((r) => r.certPem).join() === b.previousRoots.map((r) => r.certPem).join()
    && a.previousIntermediates.map((p) => p.certPem).join() === b.previousIntermediates.map((p) => p.certPem).join();
}

function canonicalList(values: readonly string[] | undefined, canon: (v: string) => string | undefined, what: string): string[] {
  return [...new Set((values ?? []).map((v) => {
    const c = canon(v);
    if (!c) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: `invalid ${what} ${JSON.stringify(v)}` });
    return c;
  }))];
}

export class CertificateAuthority {
  readonly config: PkiConfig;
  readonly #publicUrl: string;
  readonly #repo: PkiRepository;
  readonly #masterKey: Uint8Array;
  readonly #logger: Logger | undefined;
  readonly #onEvent: PkiEventListener | undefined;
  readonly #clock: () => Date;
  readonly #subjectBlocks: SubjectBlocks | undefined;
  #state: CaState;
  #generation = 0;
  /** What the newest CRL seen says, parsed once per CRL number. */
  #parsedCrl: ParsedCrl | undefined;

  private constructor(options: CertificateAuthorityOptions, state: CaState) {
    this.config = options.config;
    this.#publicUrl = options.publicUrl;
    this.#repo = options.repo;
    this.#masterKey = options.masterKey;
    this.#state = state;
    this.#logger = options.logger;
    this.#onEvent = options.onEvent;
    this.#clock = options.clock ?? (() => new Date());
    this.#subjectBlocks = options.subjectBlocks;
  }

  /**
   * Opens the CA stored in `repo`.
   * @throws GatehouseError ERR_PKI_NOT_INITIALIZED | ERR_PKI_KEY_UNSEAL_FAILED
   */
  static async open(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    const ca = await options.repo.getCa();
    if (!ca) throw new GatehouseError('ERR_PKI_NOT_INITIALIZED', { detail: 'run `gatehouse ca init` first' });
    return new CertificateAuthority(options, await loadState(ca, options.masterKey, options.config.trustDomain, (options.clock ?? (() => new Date()))()));
  }

  /**
   * Reads the CA material from the store again and switches to it when an intermediate was
   * rotated meanwhile (by the CLI or another instance), so running instances follow a
   * rotation without restart. `CrlWatcher` calls it at every refresh.
   * @returns true when the material changed.
   */
  async reload(): Promise<boolean> {
    const ca = await this.#repo.getCa();
    if (!ca || sameCa(ca, this.#state.record)) return false;
    this.#state = await loadState(ca, this.#masterKey, this.trustDomain, this.#clock());
    this.#generation++;
    this.#logger?.info({
      intermediateSerial: normalizeSerial(this.#state.issuing.cert.serialNumber), previous: this.#state.previous.length,
      rootSerial: this.root.serial, roots: this.#state.anchors.roots.length,
    }, 'certificate authority material reloaded (intermediate or root rotated)');
    return true;
  }

  /** Counts the changes `reload` found: a trust built under an older generation misses an intermediate. */
  get generation(): number {
    return this.#generation;
  }

  get trustDomain(): string {
    return this.config.trustDomain;
  }

  get rootCertPem(): string {
    return this.#state.record.rootCertPem;
  }

  /** The intermediate that issues new certificates. */
  get intermediateCertPem(): string {
    return this.#state.issuing.pem;
  }

  /** Every trusted intermediate: the issuing one first, then previous ones until they expire. */
  get intermediatesPem(): string {
    return [this.#state.issuing, ...this.#state.previous].map((i) => i.pem).join('');
  }

  /** Serial and expiry of the issuing intermediate (expiry warnings, `/readyz`). */
  get issuingIntermediate(): { serial: string; notAfter: Date } {
    const cert = this.#state.issuing.cert;
    return { serial: normalizeSerial(cert.serialNumber) ?? cert.serialNumber, notAfter: cert.notAfter };
  }

  /** Serial and expiry of the root (expiry warnings, `/readyz`). */
  get root(): { serial: string; notAfter: Date } {
    const cert = new x509.X509Certificate(this.#state.record.rootCertPem);
    return { serial: normalizeSerial(cert.serialNumber) ?? cert.serialNumber, notAfter: cert.notAfter };
  }

  /**
   * Every root certificate relying parties trust: the one in force, one a root rotation has
   * prepared, and replaced ones still vouching for a trusted intermediate.
   */
  get trustBundlePem(): string {
    return this.#state.anchors.bundlePem;
  }

  /** The root-signed CRLs that cover the intermediates, one per trusted root. */
  get rootCrlPems(): readonly string[] {
    return this.#state.rootCrlPems;
  }

  /** Trust anchors with the given workload CRLs (PEM) added to the roots'. */
  trustStore(workloadCrlPems: string | readonly string[] = []): TrustStore {
    const pems = typeof workloadCrlPems === 'string' ? [workloadCrlPems] : workloadCrlPems;
    return this.#state.anchors.withCrls([...pems, ...this.#state.rootCrlPems]);
  }

  /** Trust anchors with the current workload CRLs: what TLS endpoints of this instance should use. */
  async currentTrust(): Promise<TrustStore> {
    return this.trustStore(crlRecordPems(await this.currentCrl()));
  }

  /**
   * Issues a certificate for an identity the caller has already established (the gateway
   * itself, an admin command). Network callers go through the token or renewal paths.
   */
  async issue(request: InternalIssueRequest): Promise<IssuedCertificate> {
    return this.#guard(request.spiffeId, async () => {
      const spiffe = parseSpiffeId(request.spiffeId, this.trustDomain);
      this.#checkKind(spiffe);
      const csr = await parseCsr(request.csr);
      return this.#sign(csr, spiffe, {
        dnsNames: canonicalList(request.allowedDnsNames, canonicalDnsName, 'DNS name'),
        ipAddresses: canonicalList(request.allowedIpAddresses, canonicalIp, 'IP address'),
      }, 'internal', request);
    });
  }

  /**
   * First issuance: the bootstrap token proves the identity and is consumed (once only,
   * also across instances), before the CSR is signed.
   * @throws GatehouseError ERR_PKI_BOOTSTRAP_TOKEN_INVALID | ERR_PKI_CSR_INVALID | ERR_PKI_KEY_UNSUPPORTED | ERR_PKI_IDENTITY_NOT_ALLOWED
   */
  async issueWithBootstrapToken(csrInput: string | Uint8Array, token: string, options: IssueOptions = {}, requester: Requester = {}): Promise<IssuedCertificate> {
    // A refused token is named by its digest, with the address that presented it: detection
    // counts the distinct tokens one address tries (credentialGuessing). Without the address,
    // guessing bootstrap tokens counted for nothing. The digest is of `bootstrap <token>`, so that it
    // is not a prefix of the token's stored hash (SHA-256 of the token).
    const refused = (e: GatehouseError): RefusalContext => ({
      ...(requester.clientAddress ? { clientAddress: requester.clientAddress } : {}),
      ...(e.code === 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' && typeof token === 'string' ? { refusedCredential: credentialDigest(`bootstrap ${token}`) } : {}),
    });
    return this.#guard(undefined, async () => {
      // Parse and check the CSR and lifetime first: a malformed request must not burn the token.
      const csr = await parseCsr(csrInput);
      this.#lifetime(options);
      if (typeof token !== 'string' || bootstrapTokenId(token) === undefined) {
        throw new GatehouseError('ERR_PKI_BOOTSTRAP_TOKEN_INVALID', { detail: 'malformed token' });
      }
      const hash = hashBootstrapToken(token);
      // Looked up before it is consumed: a token for a blocked identity is refused unspent, and
      // works once the block has ended.
      const found = await this.#repo.findBootstrapToken(hash, this.#clock());
      if (found) await this.#refuseBlocked(found.spiffeId);
      const record = found && await this.#repo.consumeBootstrapToken(hash, this.#clock());
      if (!record) throw new GatehouseError('ERR_PKI_BOOTSTRAP_TOKEN_INVALID', { detail: `token ${bootstrapTokenId(token)} unknown, used or expired` });
      const spiffe = parseSpiffeId(record.spiffeId, this.trustDomain);
      this.#checkKind(spiffe);
      return this.#sign(csr, spiffe, { dnsNames: record.dnsNames, ipAddresses: record.ipAddresses }, 'bootstrap', options);
    }, refused);
  }

  /**
   * Renewal: the requester proves its identity with its current certificate (normally the
   * mTLS client certificate of the request). It must be ours, unexpired, unrevoked; the new
   * certificate has the same SPIFFE id, at most the same DNS/IP names, and a new key.
   * @throws GatehouseError ERR_PKI_RENEWAL_UNAUTHORIZED | ERR_PKI_CSR_INVALID (also for the current key) | ERR_PKI_IDENTITY_NOT_ALLOWED
   */
  async renew(csrInput: string | Uint8Array, current: PeerCertificateInput | undefined, options: IssueOptions = {}, requester: Requester = {}): Promise<IssuedCertificate> {
    // A refusal names the address it came from, as the bootstrap path's do: an operator looking
    // at refused renewals (a revoked or foreign certificate) wants to know where they came from.
    const refused = (): RefusalContext => (requester.clientAddress ? { clientAddress: requester.clientAddress } : {});
    return this.#guard(undefined, async () => {
      let peer;
      try {
        // Certificates of a previous intermediate renew too: that is how workloads move to the new one.
        peer = verifyPeer(current, this.#state.anchors, { now: this.#clock() });
      } catch (cause) {
        throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `current certificate not accepted: ${toGatehouseError(cause).message}`, cause });
      }
      // The store, not a CRL snapshot, is the authority on revocation here.
      const record = await this.#repo.getCertificate(peer.serial);
      if (!record || record.spiffeId !== peer.spiffeId) throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `serial ${peer.serial} is not a certificate this CA issued` });
      if (record.revokedAt !== null) throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `serial ${peer.serial} is revoked` });
      // A kind the operator has since removed from pki.kinds is no longer issued, also not by renewal.
      if (!this.config.kinds.includes(peer.spiffe.kind)) throw new GatehouseError('ERR_PKI_IDENTITY_NOT_ALLOWED', { detail: `kind ${peer.spiffe.kind} is not one of ${this.config.kinds.join(', ')}` });
      await this.#refuseBlocked(peer.spiffeId);
      const csr = await parseCsr(csrInput);
      // Each renewal certifies a new key: renewing the same one would keep one key in use for
      // ever, however short-lived each certificate is, so a key copied once stays good.
      const currentKey = new x509.X509Certificate(record.certPem).publicKey.rawData;
      if (Buffer.from(currentKey).equals(Buffer.from(csr.publicKey.rawData))) {
        throw new GatehouseError('ERR_PKI_CSR_INVALID', { detail: `the CSR is for the key of ${peer.serial}; a renewal needs a new key`, data: { spiffeId: peer.spiffeId } });
      }
      const issued = await this.#sign(csr, peer.spiffe, { dnsNames: record.dnsNames, ipAddresses: record.ipAddresses }, 'renewal', options, peer.serial);
      // A revocation that ran between the check above and the insert in #sign did not see the
      // new certificate (revoking an identity marks the rows stored at that moment), so a holder
      // of a compromised key could renew out of it. Look again now that the new one is stored.
      const after = await this.#repo.getCertificate(peer.serial);
      if (after?.revokedAt !== null) {
        await this.revoke({ serial: issued.serial }, after?.revocationReason ?? 'unspecified');
        throw new GatehouseError('ERR_PKI_RENEWAL_UNAUTHORIZED', { detail: `serial ${peer.serial} was revoked while it was being renewed` });
      }
      return issued;
    }, refused);
  }

  /** Creates a one-time bootstrap token bound to one SPIFFE id. The token is returned once and never stored. */
  async createBootstrapToken(request: CreateBootstrapTokenRequest): Promise<{ id: string; token: string; spiffeId: string; expiresAt: Date }> {
    const spiffe = parseSpiffeId(request.spiffeId, this.trustDomain);
    this.#checkKind(spiffe);
    const ttl = request.ttlSeconds ?? this.config.bootstrapTokenTtlSeconds;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > 30 * 86400) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: `ttlSeconds ${ttl} outside 60..2592000` });
    const now = this.#clock();
    const generated = generateBootstrapToken();
    const expiresAt = new Date(now.getTime() + ttl * 1000);
    await this.#repo.insertBootstrapToken({
      id: generated.id, tokenHash: generated.tokenHash, spiffeId: spiffe.uri,
      dnsNames: canonicalList(request.dnsNames, canonicalDnsName, 'DNS name'),
      ipAddresses: canonicalList(request.ipAddresses, canonicalIp, 'IP address'),
      createdAt: now, expiresAt, usedAt: null,
    });
    emitSafely(this.#onEvent, { type: 'pki.bootstrap_token.created', tokenId: generated.id, spiffeId: spiffe.uri, expiresAt: expiresAt.toISOString() });
    return { id: generated.id, token: generated.token, spiffeId: spiffe.uri, expiresAt };
  }

  /** Bootstrap tokens, newest first: what each is for and whether it was used (never the token). */
  listBootstrapTokens(query: BootstrapTokenQuery = {}): Promise<BootstrapTokenRecord[]> {
    return this.#repo.listBootstrapTokens(query);
  }

  /**
   * Revokes an unused bootstrap token (one handed to the wrong place, or no longer needed):
   * an issuance presenting it is refused with ERR_PKI_BOOTSTRAP_TOKEN_INVALID.
   * @throws GatehouseError ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND | ERR_ADMIN_INPUT_INVALID (already used)
   */
  async revokeBootstrapToken(id: string): Promise<BootstrapTokenRecord> {
    const [revoked] = await this.#repo.revokeBootstrapTokens({ id });
    if (!revoked) {
      const [known] = await this.#repo.listBootstrapTokens({ id, limit: 1 });
      if (!known) throw new GatehouseError('ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND', { detail: `no bootstrap token ${id.slice(0, 80)}` });
      throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { detail: `bootstrap token ${id} was used at ${known.usedAt?.toISOString()}; revoke the certificate it obtained: cert revoke --id ${known.spiffeId}` });
    }
    this.#logger?.info({ tokenId: id, spiffeId: revoked.spiffeId }, 'bootstrap token revoked');
    emitSafely(this.#onEvent, { type: 'pki.bootstrap_token.revoked', tokenIds: [id], target: id });
    return revoked;
  }

  /**
   * Revokes every unused bootstrap token of an identity. Revoking an identity's certificates
   * while a token of it stays valid left it a way to a new certificate.
   * @returns the ids of the tokens revoked.
   */
  async revokeBootstrapTokensOf(spiffeId: string): Promise<string[]> {
    const uri = parseSpiffeId(spiffeId, this.trustDomain).uri;
    const ids = (await this.#repo.revokeBootstrapTokens({ spiffeId: uri })).map((t) => t.id);
    if (ids.length > 0) {
      this.#logger?.info({ tokenIds: ids, spiffeId: uri }, 'bootstrap tokens revoked');
      emitSafely(this.#onEvent, { type: 'pki.bootstrap_token.revoked', tokenIds: ids, target: uri });
    }
    return ids;
  }

  /**
   * Revokes one certificate (by serial) with every certificate renewed from it, directly or
   * through other renewals, or every live certificate of a SPIFFE id; then publishes a new
   * CRL at once.
   * @returns the serials revoked now.
   * @throws GatehouseError ERR_PKI_CERT_NOT_FOUND when a serial is unknown
   */
  async revoke(target: { serial: string } | { spiffeId: string }, reason: RevocationReason = 'unspecified'): Promise<string[]> {
    let normalized: { serial: string } | { spiffeId: string };
    if ('serial' in target) {
      const serial = normalizeSerial(target.serial);
      if (!serial || !(await this.#repo.getCertificate(serial))) throw new GatehouseError('ERR_PKI_CERT_NOT_FOUND', { detail: `serial ${String(target.serial).slice(0, 80)}` });
      normalized = { serial };
    } else {
      normalized = { spiffeId: parseSpiffeId(target.spiffeId, this.trustDomain).uri };
    }
    const at = this.#clock();
    const serials = await this.#repo.revoke(normalized, at, reason);
    if ('serial' in normalized) serials.push(...(await this.#revokeRenewals(normalized.serial, at, reason)));
    this.#logger?.info({ serials, target: normalized, reason }, 'certificates revoked');
    emitSafely(this.#onEvent, { type: 'pki.certificate.revoked', serials, target: 'serial' in normalized ? normalized.serial : normalized.spiffeId, reason });
    try {
      await this.publishCrl();
    } catch (error) {
      // The revocation is stored: the next CRL read by any instance (or the CRL endpoint)
      // publishes a CRL with it, because currentCrl re-publishes one that misses a revocation.
      this.#logger?.error({ serials, code: toGatehouseError(error).code }, 'revocation saved, but publishing the CRL failed; the next CRL read publishes it');
      throw error;
    }
    return serials;
  }

  /**
   * Revokes the descendants of `serial` by renewal. Whoever holds a revoked certificate's key
   * may already have renewed it, and the renewed certificate is theirs as much as the old
   * one. Already revoked descendants are walked through too: their own renewals may predate
   * it. A renewal that lands after this walk is caught by `renew`, which looks at its
   * parent again once the new certificate is stored.
   */
  async #revokeRenewals(serial: string, at: Date, reason: RevocationReason): Promise<string[]> {
    const root = await this.#repo.getCertificate(serial);
    if (root && root.renewedFrom === undefined) {
      this.#logger?.warn({ serial }, 'the PKI repository keeps no renewal lineage: certificates renewed from this serial were not revoked; revoke the identity (--id) to be sure');
      return [];
    }
    const revoked: string[] = [];
    const seen = new Set([serial]);
    let frontier = [serial];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const parent of frontier) {
        const children = await this.#repo.listCertificates({ renewedFrom: parent, limit: 10_000 });
        // Filtered again here: a repository that ignored the query must not revoke strangers.
        for (const child of children.filter((c) => c.renewedFrom === parent && !seen.has(c.serial))) {
          seen.add(child.serial);
          next.push(child.serial);
          revoked.push(...(await this.#repo.revoke({ serial: child.serial }, at, reason)));
        }
      }
      frontier = next;
    }
    return revoked;
  }

  list(query: CertificateQuery = {}): Promise<CertificateRecord[]> {
    return this.#repo.listCertificates(query);
  }

  /** Looks up an issued certificate by serial (any hex spelling). */
  async get(serial: string): Promise<CertificateRecord | undefined> {
    const normalized = normalizeSerial(serial);
    return normalized ? this.#repo.getCertificate(normalized) : undefined;
  }

  /**
   * Signs and stores a new CRL with the next number. When another instance published the
   * same number first, its CRL is as good as ours: return the stored one.
   */
  async publishCrl(): Promise<CrlRecord> {
    // A rotation elsewhere must not leave the new intermediate's certificates without a CRL.
    await this.reload();
    const state = this.#state;
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.#clock();
      const latest = await this.#repo.latestCrl();
      // Entries stay until the certificate has expired for every host within the clock skew
      // the CA tolerates (backdateSeconds): a host whose clock lags still accepts it until then.
      const entries = await this.#repo.listRevoked(new Date(now.getTime() - this.config.backdateSeconds * 1000));
      const number = (latest?.number ?? 0) + 1;
      const thisUpdate = new Date(now.getTime() - this.config.backdateSeconds * 1000);
      const nextUpdate = new Date(now.getTime() + this.config.crl.lifetimeSeconds * 1000);
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
      if (await this.#repo.insertCrl(record)) {
        emitSafely(this.#onEvent, { type: 'pki.crl.published', number, entries: entries.length, nextUpdate: record.nextUpdate.toISOString() });
        return record;
      }
    }
    throw new GatehouseError('ERR_STORE_CONFLICT', { detail: 'could not publish a CRL after 5 attempts' });
  }

  /**
   * The CRL to serve: the newest stored one, or a fresh one when none exists or the newest
   * has used up half its lifetime (so relying parties never hold an expired CRL).
   */
  async currentCrl(): Promise<CrlRecord> {
    const latest = await this.#repo.latestCrl();
    const now = this.#clock().getTime();
    if (latest && now < latest.nextUpdate.getTime() - (this.config.crl.lifetimeSeconds * 1000) / 2
      && this.#coversEveryIntermediate(latest) && await this.#listsEveryRevocation(latest, now)) return latest;
    return this.publishCrl();
  }

  /** The CRL distribution point written into the certificates of the intermediate with this key id. */
  crlUrlOf(keyId: string): string {
    return new URL(issuerCrlPath(this.config.crl.path, keyId), this.#publicUrl).href;
  }

  /**
   * The current CRL signed by one trusted intermediate (key id, hex): what its certificates'
   * distribution point serves. Undefined for an intermediate this CA does not trust (unknown,
   * or expired together with every certificate it issued).
   *
   * Without a key id: the CRL behind the bare `pki.crl.path`, the distribution point of every
   * certificate issued before intermediates had their own. Those were issued by the intermediate
   * of `ca init`, which is the oldest trusted one until it expires; with one intermediate it is
   * the issuing one, as before. (Serving the issuing intermediate's CRL there broke every such
   * certificate at the first rotation.) docs/pki.md names the one case this misses.
   */
  async currentCrlOf(keyId?: string): Promise<{ der: Uint8Array; number: number; nextUpdate: Date } | undefined> {
    const crl = await this.currentCrl();
    const signers = [this.#state.issuing, ...this.#state.previous];
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
    return [this.#state.issuing, ...this.#state.previous].every((i) => issuers.has(i.keyId.toLowerCase()));
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
    const revoked = await this.#repo.listRevoked(new Date(now - this.config.backdateSeconds * 1000));
    return revoked.every((r) => serials.has(r.serial));
  }

  #checkKind(spiffe: SpiffeId): void {
    if (!this.config.kinds.includes(spiffe.kind)) {
      throw new GatehouseError('ERR_PKI_SPIFFE_ID_INVALID', { detail: `kind ${spiffe.kind} is not one of ${this.config.kinds.join(', ')}` });
    }
  }

  /** The requested (or default) lifetime in seconds, checked against the configured bounds. */
  #lifetime(options: IssueOptions): number {
    const lifetime = options.lifetimeSeconds ?? this.config.leafLifetimeSeconds;
    if (!Number.isInteger(lifetime) || lifetime < MIN_LEAF_SECONDS || lifetime > this.config.maxLeafLifetimeSeconds) {
      throw new GatehouseError('ERR_PKI_LIFETIME_INVALID', { detail: `lifetime ${lifetime}s outside ${MIN_LEAF_SECONDS}..${this.config.maxLeafLifetimeSeconds}` });
    }
    return lifetime;
  }

  /**
   * Throws ERR_PKI_IDENTITY_BLOCKED for an identity under a temporary block, and
   * ERR_STORE_UNAVAILABLE when the blocks cannot be read (fail closed). The gateway refuses a
   * blocked identity on its routes, but the CA's endpoints are served before authentication, and
   * a renewed certificate also works between services that never pass the gateway.
   */
  async #refuseBlocked(spiffeId: string): Promise<void> {
    if (!this.#subjectBlocks) return;
    let block;
    try {
      block = await this.#subjectBlocks.blockOn(spiffeId);
    } catch (cause) {
      throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: `cannot check the blocks of ${spiffeId}; refused`, cause, data: { spiffeId } });
    }
    if (block) throw new GatehouseError('ERR_PKI_IDENTITY_BLOCKED', { detail: `${spiffeId} is blocked until ${new Date(block.expiresAt).toISOString()} (block ${block.id})`, data: { spiffeId, blockId: block.id } });
  }

  async #guard<T>(knownSpiffeId: string | undefined, work: () => Promise<T>, context?: (e: GatehouseError) => RefusalContext): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const e = toGatehouseError(error);
      // Renewal and bootstrap learn the identity on the way: a refusal after that names it.
      const spiffeId = knownSpiffeId ?? (typeof e.data?.spiffeId === 'string' ? e.data.spiffeId : undefined);
      this.#logger?.warn({ code: e.code, detail: e.detail, spiffeId }, 'certificate request refused');
      emitSafely(this.#onEvent, { type: 'pki.certificate.refused', code: e.code, ...(spiffeId ? { spiffeId } : {}), ...(e.detail ? { detail: e.detail } : {}), ...context?.(e) });
      throw e;
    }
  }

  async #sign(csr: ParsedCsr, spiffe: SpiffeId, allowed: { dnsNames: readonly string[]; ipAddresses: readonly string[] }, via: CertificateRecord['issuedVia'], options: IssueOptions, previousSerial?: string): Promise<IssuedCertificate> {
    for (const uri of csr.uris) {
      if (uri !== spiffe.uri) throw new GatehouseError('ERR_PKI_IDENTITY_NOT_ALLOWED', { detail: `CSR asks for URI ${JSON.stringify(uri.slice(0, 300))}, identity is ${spiffe.uri}` });
    }
    const dnsDenied = csr.dnsNames.filter((n) => !allowed.dnsNames.includes(n));
    const ipDenied = csr.ipAddresses.filter((n) => !allowed.ipAddresses.includes(n));
    if (dnsDenied.length > 0 || ipDenied.length > 0) {
      throw new GatehouseError('ERR_PKI_IDENTITY_NOT_ALLOWED', { detail: `names not allowed for ${spiffe.uri}: ${[...dnsDenied, ...ipDenied].join(', ')}` });
    }
    const lifetime = this.#lifetime(options);
    const now = this.#clock();
    const notBefore = new Date(now.getTime() - this.config.backdateSeconds * 1000);
    // Never outlive the issuer: a chain with an expired intermediate fails everywhere.
    const tooSoon = (i: SigningIntermediate) => i.cert.notAfter.getTime() - now.getTime() < MIN_LEAF_SECONDS * 1000;
    // Rotated since this instance last looked? Then the new intermediate issues.
    if (tooSoon(this.#state.issuing)) await this.reload();
    const issuer = this.#state.issuing;
    if (tooSoon(issuer)) throw intermediateExpiredError(this.issuingIntermediate, now);
    const notAfter = new Date(Math.min(now.getTime() + lifetime * 1000, issuer.cert.notAfter.getTime()));
    const serial = randomSerial();
    const cert = await createLeafCertificate({
      serial, spiffe, dnsNames: csr.dnsNames, ipAddresses: csr.ipAddresses,
      publicKey: csr.publicKey, keyKind: csr.keyKind, notBefore, notAfter,
      issuer: issuer.cert, issuerKey: issuer.key,
      signingAlgorithm: caAlgorithm(issuer.algorithm), crlUrl: this.crlUrlOf(issuer.keyId),
    });
    const certificatePem = cert.toString('pem') + '\n';
    // Stored before it is handed out, so a certificate in the wild is always on record (and revocable).
    await this.#repo.insertCertificate({
      serial: normalizeSerial(serial)!, spiffeId: spiffe.uri, dnsNames: csr.dnsNames, ipAddresses: csr.ipAddresses,
      notBefore, notAfter, certPem: certificatePem, issuedVia: via, createdAt: now, revokedAt: null, revocationReason: null,
      renewedFrom: previousSerial ?? null,
    });
    const issued: IssuedCertificate = {
      serial: normalizeSerial(serial)!, spiffeId: spiffe.uri, notBefore, notAfter, certificatePem,
      chainPem: certificatePem + issuer.pem, trustBundlePem: this.trustBundlePem,
    };
    this.#logger?.info({ serial: issued.serial, spiffeId: spiffe.uri, via, notAfter }, 'certificate issued');
    emitSafely(this.#onEvent, { type: 'pki.certificate.issued', serial: issued.serial, spiffeId: spiffe.uri, via, notAfter: notAfter.toISOString(), ...(previousSerial ? { previousSerial } : {}) });
    return issued;
  }
}
