/**
 * The running certificate authority: issues workload certificates from CSRs against a proof
 * of identity (bootstrap token or current certificate), revokes them, and publishes CRLs.
 * Its state lives in the shared store, so every instance opened on the same store and
 * master key acts as one CA.
 *
 * This class is the CA's public face; each operation lives in its own module (issuance.ts,
 * renewal.ts, revocation.ts, crl-publisher.ts, bootstrap-token-admin.ts) and works on the
 * `CaContext` built here.
 */
import type { Logger } from 'pino';
import type { PkiConfig } from '../core/config/pki-schema.ts';
import type { SubjectBlocks } from '../detect/subject-blocks.ts';
import { createBootstrapToken, revokeBootstrapToken, revokeBootstrapTokensOf } from './bootstrap-token-admin.ts';
import type { CaContext } from './ca-context.ts';
import { CaMaterial } from './ca-material.ts';
import type { CreateBootstrapTokenRequest, InternalIssueRequest, IssuedCertificate, IssueOptions, Requester } from './certificate-requests.ts';
import { crlRecordPems, type RevocationReason } from './crl-builder.ts';
import { issuerCrlUrl } from './crl-distribution-point.ts';
import { CrlPublisher } from './crl-publisher.ts';
import type { PkiEventListener } from './events.ts';
import { issueInternal, issueWithBootstrapToken } from './issuance.ts';
import type { PeerCertificateInput } from './mtls/verify-peer.ts';
import { renewCertificate } from './renewal.ts';
import type { BootstrapTokenQuery, BootstrapTokenRecord, CertificateQuery, CertificateRecord, CrlRecord, PkiRepository } from './repository.ts';
import { revokeCertificates } from './revocation.ts';
import { normalizeSerial } from './serial.ts';
import type { TrustStore } from './trust-store.ts';

export type { CreateBootstrapTokenRequest, InternalIssueRequest, IssuedCertificate, IssueOptions, Requester } from './certificate-requests.ts';

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

export class CertificateAuthority {
  readonly config: PkiConfig;
  readonly #ca: CaContext;
  readonly #crls: CrlPublisher;

  private constructor(options: CertificateAuthorityOptions, material: CaMaterial, clock: () => Date) {
    this.config = options.config;
    this.#ca = {
      config: options.config, publicUrl: options.publicUrl, repo: options.repo, material, clock,
      logger: options.logger, onEvent: options.onEvent, subjectBlocks: options.subjectBlocks,
    };
    this.#crls = new CrlPublisher(this.#ca);
  }

  /**
   * Opens the CA stored in `repo`.
   * @throws GatehouseError ERR_PKI_NOT_INITIALIZED | ERR_PKI_KEY_UNSEAL_FAILED
   */
  static async open(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    const clock = options.clock ?? (() => new Date());
    const material = await CaMaterial.open({ repo: options.repo, masterKey: options.masterKey, trustDomain: options.config.trustDomain, clock, logger: options.logger });
    return new CertificateAuthority(options, material, clock);
  }

  /**
   * Reads the CA material from the store again and switches to it when an intermediate was
   * rotated meanwhile (by the CLI or another instance), so running instances follow a
   * rotation without restart. `CrlWatcher` calls it at every refresh.
   * @returns true when the material changed.
   */
  reload(): Promise<boolean> {
    return this.#ca.material.reload();
  }

  /** Counts the changes `reload` found: a trust built under an older generation misses an intermediate. */
  get generation(): number {
    return this.#ca.material.generation;
  }

  get trustDomain(): string {
    return this.config.trustDomain;
  }

  get rootCertPem(): string {
    return this.#ca.material.state.record.rootCertPem;
  }

  /** The intermediate that issues new certificates. */
  get intermediateCertPem(): string {
    return this.#ca.material.state.issuing.pem;
  }

  /** Every trusted intermediate: the issuing one first, then previous ones until they expire. */
  get intermediatesPem(): string {
    const state = this.#ca.material.state;
    return [state.issuing, ...state.previous].map((i) => i.pem).join('');
  }

  /** Serial and expiry of the issuing intermediate (expiry warnings, `/readyz`). */
  get issuingIntermediate(): { serial: string; notAfter: Date } {
    return this.#ca.material.issuingIntermediate;
  }

  /** Serial and expiry of the root (expiry warnings, `/readyz`). */
  get root(): { serial: string; notAfter: Date } {
    return this.#ca.material.root;
  }

  /**
   * Every root certificate relying parties trust: the one in force, one a root rotation has
   * prepared, and replaced ones still vouching for a trusted intermediate.
   */
  get trustBundlePem(): string {
    return this.#ca.material.state.anchors.bundlePem;
  }

  /** The root-signed CRLs that cover the intermediates, one per trusted root. */
  get rootCrlPems(): readonly string[] {
    return this.#ca.material.state.rootCrlPems;
  }

  /** Trust anchors with the given workload CRLs (PEM) added to the roots'. */
  trustStore(workloadCrlPems: string | readonly string[] = []): TrustStore {
    const pems = typeof workloadCrlPems === 'string' ? [workloadCrlPems] : workloadCrlPems;
    const state = this.#ca.material.state;
    return state.anchors.withCrls([...pems, ...state.rootCrlPems]);
  }

  /** Trust anchors with the current workload CRLs: what TLS endpoints of this instance should use. */
  async currentTrust(): Promise<TrustStore> {
    return this.trustStore(crlRecordPems(await this.currentCrl()));
  }

  /**
   * Issues a certificate for an identity the caller has already established (the gateway
   * itself, an admin command). Network callers go through the token or renewal paths.
   */
  issue(request: InternalIssueRequest): Promise<IssuedCertificate> {
    return issueInternal(this.#ca, request);
  }

  /**
   * First issuance: the bootstrap token proves the identity and is consumed (once only,
   * also across instances), before the CSR is signed.
   * @throws GatehouseError ERR_PKI_BOOTSTRAP_TOKEN_INVALID | ERR_PKI_CSR_INVALID | ERR_PKI_KEY_UNSUPPORTED | ERR_PKI_IDENTITY_NOT_ALLOWED
   */
  issueWithBootstrapToken(csrInput: string | Uint8Array, token: string, options: IssueOptions = {}, requester: Requester = {}): Promise<IssuedCertificate> {
    return issueWithBootstrapToken(this.#ca, csrInput, token, options, requester);
  }

  /**
   * Renewal: the requester proves its identity with its current certificate (normally the
   * mTLS client certificate of the request). It must be ours, unexpired, unrevoked; the new
   * certificate has the same SPIFFE id, at most the same DNS/IP names, and a new key.
   * @throws GatehouseError ERR_PKI_RENEWAL_UNAUTHORIZED | ERR_PKI_CSR_INVALID (also for the current key) | ERR_PKI_IDENTITY_NOT_ALLOWED
   */
  renew(csrInput: string | Uint8Array, current: PeerCertificateInput | undefined, options: IssueOptions = {}, requester: Requester = {}): Promise<IssuedCertificate> {
    return renewCertificate(this.#ca, this.#crls, csrInput, current, options, requester);
  }

  /** Creates a one-time bootstrap token bound to one SPIFFE id. The token is returned once and never stored. */
  createBootstrapToken(request: CreateBootstrapTokenRequest): Promise<{ id: string; token: string; spiffeId: string; expiresAt: Date }> {
    return createBootstrapToken(this.#ca, request);
  }

  /** Bootstrap tokens, newest first: what each is for and whether it was used (never the token). */
  listBootstrapTokens(query: BootstrapTokenQuery = {}): Promise<BootstrapTokenRecord[]> {
    return this.#ca.repo.listBootstrapTokens(query);
  }

  /**
   * Revokes an unused bootstrap token (one handed to the wrong place, or no longer needed):
   * an issuance presenting it is refused with ERR_PKI_BOOTSTRAP_TOKEN_INVALID.
   * @throws GatehouseError ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND | ERR_ADMIN_INPUT_INVALID (already used)
   */
  revokeBootstrapToken(id: string): Promise<BootstrapTokenRecord> {
    return revokeBootstrapToken(this.#ca, id);
  }

  /**
   * Revokes every unused bootstrap token of an identity. Revoking an identity's certificates
   * while a token of it stays valid left it a way to a new certificate.
   * @returns the ids of the tokens revoked.
   */
  revokeBootstrapTokensOf(spiffeId: string): Promise<string[]> {
    return revokeBootstrapTokensOf(this.#ca, spiffeId);
  }

  /**
   * Revokes one certificate (by serial) with every certificate renewed from it, directly or
   * through other renewals, or every live certificate of a SPIFFE id; then publishes a new
   * CRL at once.
   * @returns the serials revoked now.
   * @throws GatehouseError ERR_PKI_CERT_NOT_FOUND when a serial is unknown
   */
  revoke(target: { serial: string } | { spiffeId: string }, reason: RevocationReason = 'unspecified'): Promise<string[]> {
    return revokeCertificates(this.#ca, this.#crls, target, reason);
  }

  list(query: CertificateQuery = {}): Promise<CertificateRecord[]> {
    return this.#ca.repo.listCertificates(query);
  }

  /** Looks up an issued certificate by serial (any hex spelling). */
  async get(serial: string): Promise<CertificateRecord | undefined> {
    const normalized = normalizeSerial(serial);
    return normalized ? this.#ca.repo.getCertificate(normalized) : undefined;
  }

  /**
   * Signs and stores a new CRL with the next number. When another instance published the
   * same number first, its CRL is as good as ours: return the stored one.
   */
  publishCrl(): Promise<CrlRecord> {
    return this.#crls.publishCrl();
  }

  /**
   * The CRL to serve: the newest stored one, or a fresh one when none exists or the newest
   * has used up half its lifetime (so relying parties never hold an expired CRL).
   */
  currentCrl(): Promise<CrlRecord> {
    return this.#crls.currentCrl();
  }

  /** The CRL distribution point written into the certificates of the intermediate with this key id. */
  crlUrlOf(keyId: string): string {
    return issuerCrlUrl(this.config.crl.path, this.#ca.publicUrl, keyId);
  }

  /**
   * The current CRL signed by one trusted intermediate (key id, hex): what its certificates'
   * distribution point serves. Undefined for an intermediate this CA does not trust (unknown,
   * or expired together with every certificate it issued).
   *
   * Without a key id: the CRL behind the bare `pki.crl.path`, the distribution point of every
   * certificate issued before intermediates had their own (see crl-publisher.ts for which
   * intermediate's CRL that is).
   */
  currentCrlOf(keyId?: string): Promise<{ der: Uint8Array; number: number; nextUpdate: Date } | undefined> {
    return this.#crls.currentCrlOf(keyId);
  }
}
