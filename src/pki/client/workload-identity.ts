/**
 * A workload's certificate identity, kept current by talking to Gatehouse over HTTPS:
 *
 * - the key is generated here (P-256 by default, WebCrypto) and never leaves the process (only CSRs do);
 * - the first certificate comes with a one-time bootstrap token, or from `dataDir` after a
 *   restart (the stored key is refused when its file is readable by group or others);
 * - renewal runs at 2/3 of the lifetime (CertificateRotator.renewalTime), over mTLS with the
 *   current certificate and a fresh key each time; failures retry with backoff until expiry;
 * - trust material (roots, intermediate, CRLs) is fetched every `trustRefreshMs`, verified
 *   (signatures, expiry, no CRL rollback) and handed to listeners, so a revocation at the CA
 *   is enforced by this workload within one refresh interval.
 *
 * Listeners (`onChange`) receive new material and/or trust: servers swap their secure
 * context, clients use the new material for their next connections.
 */
import type { Logger } from 'pino';
import { GatehouseError, toGatehouseError } from '../../core/errors.ts';
import { emitSafely, type PkiEventListener } from '../events.ts';
import { CertificateRotator } from '../mtls/rotator.ts';
import type { TlsMaterial } from '../mtls/tls-material.ts';
import { parseSpiffeId } from '../spiffe.ts';
import type { TrustStore } from '../trust-store.ts';
import { checkMaterial } from './check-material.ts';
import { createKeyAndCsr, type WorkloadKeyAlgorithm } from '../key-and-csr.ts';
import { MaterialStore } from './material-store.ts';
import { PkiApiClient, type PkiApiClientOptions } from './pki-api-client.ts';
import { buildVerifiedTrust, type VerifiedTrust } from './verified-trust.ts';

export interface WorkloadIdentityOptions extends PkiApiClientOptions {
  /** This workload's identity, `spiffe://<trustDomain>/<kind>/<name>`. */
  spiffeId: string;
  /** One-time token for the first certificate (`gatehouse bootstrap-token create`). Not needed when `dataDir` holds a usable certificate. */
  bootstrapToken?: string;
  /** Where key (0600), certificate and trust are kept across restarts. Without it, state is in memory only. */
  dataDir?: string;
  /** DNS names / IP addresses to ask for (the CA grants at most what the token allows). */
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Key type of this workload's keys. Default ECDSA-P256. */
  keyAlgorithm?: WorkloadKeyAlgorithm;
  /** Requested certificate lifetime; default: the CA's. */
  lifetimeSeconds?: number;
  /** Fraction of the lifetime after which to renew. Default 2/3. */
  renewAtFraction?: number;
  /** How often to fetch the trust bundle and CRLs. Default 30 000 ms. */
  trustRefreshMs?: number;
  /** First retry delay after a failed renewal; doubles up to 5 min, capped at 1/10 of the remaining lifetime. Default 1000 ms. */
  retryMs?: number;
  logger?: Logger;
  /** Receives `pki.rotation.completed` / `pki.rotation.failed`. */
  onEvent?: PkiEventListener;
}

/** What changed: new material (rotation), new trust (bundle or CRL), or both. */
export interface IdentityChange {
  material?: TlsMaterial;
  trust?: TrustStore;
}

export type IdentityListener = (change: IdentityChange) => void;

export class WorkloadIdentity {
  readonly spiffeId: string;
  readonly #options: WorkloadIdentityOptions;
  readonly #api: PkiApiClient;
  readonly #store: MaterialStore | undefined;
  readonly #trustDomain: string;
  readonly #listeners = new Set<IdentityListener>();
  readonly #log: Logger | undefined;
  #material!: TlsMaterial;
  #trust!: VerifiedTrust;
  #renewTimer: NodeJS.Timeout | undefined;
  #trustTimer: NodeJS.Timeout | undefined;
  #rotating: Promise<TlsMaterial> | undefined;
  #refreshing: Promise<TrustStore> | undefined;
  #retryMs: number;
  #stopped = false;

  private constructor(options: WorkloadIdentityOptions) {
    this.#options = options;
    this.spiffeId = parseSpiffeId(options.spiffeId).uri;
    this.#trustDomain = parseSpiffeId(options.spiffeId).trustDomain;
    this.#api = new PkiApiClient(options);
    this.#store = options.dataDir ? new MaterialStore(options.dataDir) : undefined;
    this.#log = options.logger?.child({ component: 'workload-identity', spiffeId: this.spiffeId });
    this.#retryMs = options.retryMs ?? 1000;
  }

  /**
   * Loads or obtains the certificate and trust, then keeps both current.
   * @throws GatehouseError ERR_PKI_CLIENT_NO_CREDENTIAL | ERR_PKI_CLIENT_KEY_PERMISSIONS |
   *   ERR_PKI_CLIENT_CA_UNREACHABLE | ERR_PKI_CLIENT_TRUST_INVALID | the CA's refusal (e.g. ERR_PKI_BOOTSTRAP_TOKEN_INVALID)
   *
   * @example
   *   const identity = await WorkloadIdentity.start({
   *     gatehouseUrl: 'https://gatehouse.example', spiffeId: 'spiffe://example/svc/mail',
   *     bootstrapToken: process.env.GATEHOUSE_BOOTSTRAP_TOKEN, dataDir: '/var/lib/mail/identity',
   *   });
   *   identity.onChange(({ material, trust }) => { … });
   */
  static async start(options: WorkloadIdentityOptions): Promise<WorkloadIdentity> {
    const identity = new WorkloadIdentity(options);
    try {
      await identity.#init();
    } catch (error) {
      await identity.stop();
      throw error;
    }
    return identity;
  }

  /** The certificate and key in use. */
  get material(): TlsMaterial {
    return this.#material;
  }

  /** The trust (roots, intermediates, CRLs) in force. */
  get trust(): TrustStore {
    return this.#trust.trust;
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: IdentityListener): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  /** Renews now (concurrent calls share one renewal). */
  rotateNow(): Promise<TlsMaterial> {
    this.#rotating ??= this.#rotate().finally(() => { this.#rotating = undefined; });
    return this.#rotating;
  }

  /** Fetches trust material now; listeners hear about it when it changed. */
  refreshTrust(): Promise<TrustStore> {
    // One refresh at a time: a slow Gatehouse must not pile up requests every interval.
    this.#refreshing ??= this.#refreshTrust().finally(() => { this.#refreshing = undefined; });
    return this.#refreshing;
  }

  async #refreshTrust(): Promise<TrustStore> {
    const next = await buildVerifiedTrust(await this.#api.trust(), this.#trustDomain, this.#trust);
    const changed = next.crlNumber !== this.#trust.crlNumber || next.answer.roots !== this.#trust.answer.roots || next.answer.intermediates !== this.#trust.answer.intermediates;
    if (!changed) return this.#trust.trust;
    this.#trust = next;
    await this.#store?.saveTrust(next.answer).catch((err: unknown) => this.#log?.warn({ err: toGatehouseError(err).message }, 'could not save the trust material'));
    this.#log?.info({ crlNumber: next.crlNumber, nextUpdate: next.nextUpdate }, 'trust material updated');
    this.#notify({ trust: next.trust });
    return next.trust;
  }

  /** Stops renewing and refreshing; the current material stays usable until it expires. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    if (this.#trustTimer) clearInterval(this.#trustTimer);
    this.#listeners.clear();
    await this.#api.close();
  }

  async #init(): Promise<void> {
    await this.#store?.init();
    this.#trust = await this.#initialTrust();
    const stored = await this.#loadStored();
    if (stored) {
      this.#material = stored;
      this.#log?.info({ serial: stored.serial, notAfter: stored.notAfter }, 'reusing the stored certificate');
    } else {
      this.#material = await this.#bootstrap();
    }
    const due = CertificateRotator.renewalTime(this.#material.notBefore, this.#material.notAfter, this.#options.renewAtFraction);
    if (due.getTime() <= Date.now()) {
      // Restarted after the renewal time: renew before serving, but a still-valid certificate is good enough to start.
      await this.rotateNow().catch(() => { /* logged, retry scheduled */ });
    } else {
      this.#scheduleRenewal(due.getTime() - Date.now());
    }
    const every = this.#options.trustRefreshMs ?? 30_000;
    this.#trustTimer = setInterval(() => {
      this.refreshTrust().catch((err: unknown) => {
        const e = toGatehouseError(err);
        this.#log?.warn({ code: e.code, detail: e.detail, crlNextUpdate: this.#trust.nextUpdate }, 'trust refresh failed; keeping the current trust until its CRLs expire');
      });
    }, every);
    this.#trustTimer.unref();
  }

  async #initialTrust(): Promise<VerifiedTrust> {
    try {
      const trust = await buildVerifiedTrust(await this.#api.trust(), this.#trustDomain);
      await this.#store?.saveTrust(trust.answer);
      return trust;
    } catch (error) {
      // Gatehouse unreachable at start: saved trust is fine while its CRLs are valid (checked by buildVerifiedTrust).
      const saved = await this.#store?.loadTrust();
      if (!saved) throw error;
      this.#log?.warn({ code: toGatehouseError(error).code }, 'trust material unavailable; starting with the saved one');
      return buildVerifiedTrust(saved, this.#trustDomain);
    }
  }

  async #loadStored(): Promise<TlsMaterial | undefined> {
    const stored = await this.#store?.load();
    if (!stored) return undefined;
    try {
      return checkMaterial(stored.keyPem, stored.chainPem, this.spiffeId, this.#trust.trust, 'ERR_PKI_CLIENT_STATE_INVALID');
    } catch (error) {
      const e = toGatehouseError(error);
      if (this.#options.bootstrapToken === undefined) {
        throw new GatehouseError('ERR_PKI_CLIENT_NO_CREDENTIAL', { detail: `stored certificate unusable (${e.detail ?? e.code}) and no bootstrap token given`, cause: e });
      }
      this.#log?.warn({ code: e.code, detail: e.detail }, 'stored certificate unusable; using the bootstrap token');
      return undefined;
    }
  }

  async #bootstrap(): Promise<TlsMaterial> {
    const token = this.#options.bootstrapToken;
    if (token === undefined) throw new GatehouseError('ERR_PKI_CLIENT_NO_CREDENTIAL', { detail: `no certificate${this.#store ? ` in ${this.#store.dir}` : ''} and no bootstrap token` });
    const { keyPem, csrPem } = await createKeyAndCsr(this.spiffeId, this.#names(), this.#options.keyAlgorithm);
    const issued = await this.#api.issue(csrPem, token, this.#options.lifetimeSeconds);
    const material = checkMaterial(keyPem, issued.chainPem, this.spiffeId, this.#trust.trust, 'ERR_PKI_CLIENT_RESPONSE_INVALID');
    await this.#store?.save(material);
    this.#log?.info({ serial: material.serial, notAfter: material.notAfter }, 'certificate obtained with the bootstrap token');
    emitSafely(this.#options.onEvent, { type: 'pki.rotation.completed', spiffeId: this.spiffeId, serial: material.serial, notAfter: material.notAfter.toISOString() });
    return material;
  }

  async #rotate(): Promise<TlsMaterial> {
    try {
      const { keyPem, csrPem } = await createKeyAndCsr(this.spiffeId, this.#names(), this.#options.keyAlgorithm);
      const issued = await this.#api.renew(csrPem, this.#material, this.#options.lifetimeSeconds);
      const material = checkMaterial(keyPem, issued.chainPem, this.spiffeId, this.#trust.trust, 'ERR_PKI_CLIENT_RESPONSE_INVALID');
      await this.#store?.save(material);
      this.#material = material;
      this.#retryMs = this.#options.retryMs ?? 1000;
      this.#log?.info({ serial: material.serial, notAfter: material.notAfter }, 'certificate renewed');
      emitSafely(this.#options.onEvent, { type: 'pki.rotation.completed', spiffeId: this.spiffeId, serial: material.serial, notAfter: material.notAfter.toISOString() });
      this.#notify({ material });
      this.#scheduleRenewal(CertificateRotator.renewalTime(material.notBefore, material.notAfter, this.#options.renewAtFraction).getTime() - Date.now());
      return material;
    } catch (error) {
      const e = toGatehouseError(error);
      const remaining = this.#material.notAfter.getTime() - Date.now();
      const delay = Math.max(100, Math.min(this.#retryMs, remaining / 10));
      this.#retryMs = Math.min(this.#retryMs * 2, 5 * 60_000);
      this.#log?.warn({ code: e.code, detail: e.detail, retryInMs: delay, notAfter: this.#material.notAfter }, 'certificate renewal failed');
      emitSafely(this.#options.onEvent, { type: 'pki.rotation.failed', spiffeId: this.spiffeId, code: e.code, retryInMs: delay });
      if (remaining > 0) this.#scheduleRenewal(delay);
      else this.#log?.error({ code: e.code }, 'certificate expired; a new bootstrap token is needed');
      throw e;
    }
  }

  #names(): { dnsNames?: readonly string[]; ipAddresses?: readonly string[] } {
    return { ...(this.#options.dnsNames ? { dnsNames: this.#options.dnsNames } : {}), ...(this.#options.ipAddresses ? { ipAddresses: this.#options.ipAddresses } : {}) };
  }

  #scheduleRenewal(inMs: number): void {
    if (this.#stopped) return;
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    // setTimeout caps at ~24.8 days; re-arm in steps for longer waits.
    const step = Math.min(Math.max(inMs, 0), 2 ** 31 - 1);
    this.#renewTimer = setTimeout(() => {
      if (step < inMs) { this.#scheduleRenewal(inMs - step); return; }
      this.rotateNow().catch(() => { /* reported and rescheduled in #rotate */ });
    }, step);
    this.#renewTimer.unref();
  }

  #notify(change: IdentityChange): void {
    for (const listener of this.#listeners) {
      try { listener(change); } catch (err) {
        this.#log?.error({ err: toGatehouseError(err).message }, 'identity change listener failed');
      }
    }
  }
}
