/**
 * Keeps a workload's certificate fresh: generates a new key and CSR, obtains a certificate,
 * and hands the material to `onRotate` (which typically calls `guard.update({ material })`
 * or `server.setSecureContext()`, and rebuilds client agents). Renews at 2/3 of the
 * lifetime, or on demand; on failure it retries with backoff until the certificate expires.
 * Each rotation uses a new key pair: a renewal never extends the life of an old key.
 */
import type { Logger } from 'pino';
import { toGatehouseError } from '../../core/errors.ts';
import { emitSafely, type PkiEventListener } from '../events.ts';
import { createKeyAndCsr } from '../key-and-csr.ts';
import type { TlsMaterial } from './tls-material.ts';

/** What the CA returns for a CSR (a subset of IssuedCertificate). */
export interface ObtainedCertificate {
  chainPem: string;
  spiffeId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateRotatorOptions {
  spiffeId: string;
  /** DNS names / IP addresses to ask for (the CA grants only what the identity may have). */
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /**
   * Gets a certificate for `csrPem`. `current` is undefined the first time (use a
   * bootstrap token or in-process issuance) and the material in use afterwards (renewal).
   */
  obtain: (csrPem: string, current: TlsMaterial | undefined) => Promise<ObtainedCertificate>;
  /** Receives each new material; may be async. Its failure counts as a failed rotation. */
  onRotate: (material: TlsMaterial) => void | Promise<void>;
  /** Fraction of the lifetime after which to renew. Default 2/3. */
  renewAtFraction?: number;
  /** First retry delay after a failure; doubles up to 1/10 of the remaining lifetime. Default 1000 ms. */
  retryMs?: number;
  onEvent?: PkiEventListener;
  logger?: Logger;
}

/** A fresh P-256 key and a CSR for it carrying the SPIFFE id (and DNS/IP names, if given). */
export function generateKeyAndCsr(spiffeId: string, names: { dnsNames?: readonly string[]; ipAddresses?: readonly string[] } = {}): Promise<{ keyPem: string; csrPem: string }> {
  return createKeyAndCsr(spiffeId, names, 'ECDSA-P256');
}

export class CertificateRotator {
  readonly #options: CertificateRotatorOptions;
  #current: TlsMaterial | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<TlsMaterial> | undefined;
  #retryMs: number;
  #stopped = false;

  constructor(options: CertificateRotatorOptions) {
    this.#options = options;
    this.#retryMs = options.retryMs ?? 1000;
  }

  get current(): TlsMaterial | undefined {
    return this.#current;
  }

  /** Obtains the first certificate and schedules renewals. */
  async start(): Promise<TlsMaterial> {
    this.#stopped = false;
    return this.rotateNow();
  }

  /** Renews now (concurrent calls share one renewal). */
  rotateNow(): Promise<TlsMaterial> {
    this.#inFlight ??= this.#rotate().finally(() => { this.#inFlight = undefined; });
    return this.#inFlight;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** When the next renewal is due for a certificate valid from `notBefore` to `notAfter`. */
  static renewalTime(notBefore: Date, notAfter: Date, fraction = 2 / 3): Date {
    return new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * fraction);
  }

  async #rotate(): Promise<TlsMaterial> {
    const { spiffeId } = this.#options;
    try {
      const { keyPem, csrPem } = await generateKeyAndCsr(spiffeId, { ...(this.#options.dnsNames ? { dnsNames: this.#options.dnsNames } : {}), ...(this.#options.ipAddresses ? { ipAddresses: this.#options.ipAddresses } : {}) });
      const issued = await this.#options.obtain(csrPem, this.#current);
      const material: TlsMaterial = { keyPem, chainPem: issued.chainPem, spiffeId: issued.spiffeId, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
      await this.#options.onRotate(material);
      this.#current = material;
      this.#retryMs = this.#options.retryMs ?? 1000;
      this.#options.logger?.info({ spiffeId, serial: material.serial, notAfter: material.notAfter }, 'certificate rotated');
      emitSafely(this.#options.onEvent, { type: 'pki.rotation.completed', spiffeId, serial: material.serial, notAfter: material.notAfter.toISOString() });
      this.#schedule(CertificateRotator.renewalTime(material.notBefore, material.notAfter, this.#options.renewAtFraction).getTime() - Date.now());
      return material;
    } catch (error) {
      const e = toGatehouseError(error);
      const remaining = this.#current ? this.#current.notAfter.getTime() - Date.now() : Number.POSITIVE_INFINITY;
      // Retry sooner as expiry nears; once expired, plain backoff (not a 100 ms loop against the CA).
      const delay = Math.max(100, Math.min(this.#retryMs, remaining > 0 ? remaining / 10 : Number.POSITIVE_INFINITY));
      this.#retryMs = Math.min(this.#retryMs * 2, 5 * 60_000);
      this.#options.logger?.warn({ spiffeId, code: e.code, detail: e.detail, retryInMs: delay }, 'certificate rotation failed');
      emitSafely(this.#options.onEvent, { type: 'pki.rotation.failed', spiffeId, code: e.code, retryInMs: delay });
      if (this.#current) this.#schedule(delay);
      throw e;
    }
  }

  #schedule(inMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    // setTimeout caps at ~24.8 days; re-arm in steps for longer waits.
    const step = Math.min(Math.max(inMs, 0), 2 ** 31 - 1);
    this.#timer = setTimeout(() => {
      if (step < inMs) { this.#schedule(inMs - step); return; }
      this.rotateNow().catch(() => { /* reported and rescheduled in #rotate */ });
    }, step);
    this.#timer.unref();
  }
}
