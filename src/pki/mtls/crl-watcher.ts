/**
 * Keeps every instance's revocation data and CA material current. Every
 * `refreshIntervalSeconds` it reloads the CA (an intermediate rotated meanwhile) and asks it
 * for the current CRLs (read from the shared store; re-signed by whichever instance first
 * finds them half-expired) and, when either changed, hands a new TrustStore to
 * `onChange` (typically `guard.update({ trust })` and client agents). A revocation on one
 * instance is thus enforced by all within one interval (default 30 s).
 *
 * `refreshSoon` is the same refresh out of schedule, for a change announced on the bus
 * (ca-change-subscription.ts): the poll stays as the fallback for an announcement lost.
 */
import type { Logger } from 'pino';
import { toGatehouseError } from '../../core/errors.ts';
import type { CertificateAuthority } from '../authority.ts';
import { crlRecordPems } from '../crl-builder.ts';
import type { TrustStore } from '../trust-store.ts';

export interface CrlWatcherOptions {
  ca: CertificateAuthority;
  onChange: (trust: TrustStore) => void;
  /** Default: `pki.crl.refreshIntervalSeconds` of the CA's configuration. */
  intervalMs?: number;
  logger?: Logger;
}

export class CrlWatcher {
  readonly #options: CrlWatcherOptions;
  #number = -1;
  #generation = -1;
  #trust: TrustStore | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<TrustStore> | undefined;
  #queued: Promise<void> | undefined;

  constructor(options: CrlWatcherOptions) {
    this.#options = options;
  }

  /** The trust store built from the newest CRL seen (after the first refresh). */
  get trust(): TrustStore | undefined {
    return this.#trust;
  }

  /** Loads the current CRL once, then keeps polling. */
  async start(): Promise<TrustStore> {
    const trust = await this.refresh();
    const interval = this.#options.intervalMs ?? this.#options.ca.config.crl.refreshIntervalSeconds * 1000;
    this.#timer = setInterval(() => { this.refresh().catch(() => { /* logged in refresh */ }); }, interval);
    this.#timer.unref();
    return trust;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Refreshes once more, after the refresh under way if there is one: that one may have read
   * the store before the change that prompted this call. Calls made while one is queued share
   * it, so a burst of announcements costs at most two reads. Never rejects (refresh logs).
   */
  refreshSoon(): Promise<void> {
    this.#queued ??= (this.#running ?? Promise.resolve()).catch(() => undefined).then(() => {
      this.#queued = undefined;
      return this.refresh();
    }).then(() => undefined, () => undefined);
    return this.#queued;
  }

  /** Reads the current CRL now; calls `onChange` when it is new. */
  async refresh(): Promise<TrustStore> {
    const run = this.#refresh();
    this.#running = run;
    try {
      return await run;
    } finally {
      if (this.#running === run) this.#running = undefined;
    }
  }

  async #refresh(): Promise<TrustStore> {
    try {
      const { ca } = this.#options;
      // An intermediate rotated elsewhere (CLI, another instance) reaches this instance here:
      // its certificates are trusted, and its CRL read, without a restart.
      await ca.reload();
      const crl = await ca.currentCrl();
      if (crl.number !== this.#number || ca.generation !== this.#generation || !this.#trust) {
        this.#trust = ca.trustStore(crlRecordPems(crl));
        this.#number = crl.number;
        this.#generation = ca.generation;
        this.#options.onChange(this.#trust);
      }
      return this.#trust;
    } catch (error) {
      // Keep the last good trust: its CRL stays valid for a while (nextUpdate); OpenSSL and
      // verifyPeer refuse peers once it expires, so an outage fails closed, not open.
      this.#options.logger?.warn({ code: toGatehouseError(error).code }, 'CRL refresh failed; keeping the previous one');
      if (this.#trust) return this.#trust;
      throw error;
    }
  }
}
