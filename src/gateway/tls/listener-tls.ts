/**
 * The public listener's TLS settings: the certificate it starts with (configured or the
 * development one), and every change while it runs — certificate files and lowest version on
 * reload, client CA names following the CA, the session ticket key schedule.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import type { Config } from '../../core/config/schema.ts';
import type { GatewayMetrics } from '../../observability/metrics.ts';
import type { GatewayExtension } from '../gateway-extension.ts';
import { tlsOptions, type TlsMaterial } from '../listeners.ts';
import { assertCertificateServes, readCertificatePair } from './check-certificate.ts';
import { followClientCaBundle } from './client-ca-names.ts';
import { ensureDevCertificate } from './dev-certificate.ts';
import { TicketKeyRotation } from './ticket-keys.ts';

export interface ListenerTlsOptions {
  logger: Logger;
  metrics: GatewayMetrics;
  /** The config file a reload reads (named in its refusals). */
  configFile: string | undefined;
  /** True once the gateway stops: the client CA names are no longer changed then. */
  isDraining: () => boolean;
}

export class ListenerTls {
  readonly #options: ListenerTlsOptions;
  #https: HttpsServer | undefined;
  /** The certificate and key served (as read), to tell whether a reload changed them. */
  #source = '';
  /** The listener's TLS settings as started (client CA included), the base of every certificate reload. */
  #tls: TlsMaterial | undefined;
  /** Replaces the listener's session ticket key on a schedule (see tls/ticket-keys.ts). */
  #ticketKeys: TicketKeyRotation | undefined;
  /** Stops the listener's client CA names following the CA (see tls/client-ca-names.ts). */
  #unfollowClientCa: () => void = () => {};

  constructor(options: ListenerTlsOptions) {
    this.#options = options;
  }

  /** The configured certificate, checked as start checks it; undefined when none is configured. */
  async configured(config: Config, source: string): Promise<TlsMaterial | undefined> {
    const tls = config.listeners.https.tls;
    if (!tls.cert || !tls.key) return undefined;
    const files = { cert: tls.cert, key: tls.key };
    const { cert, key } = await readCertificatePair(files, source);
    for (const w of assertCertificateServes({ cert, key }, files, source)) this.#options.logger.warn(w);
    this.#source = cert + key;
    return { cert, key, minVersion: tls.minVersion };
  }

  async development(config: Config): Promise<TlsMaterial> {
    const tls = config.listeners.https.tls;
    const dev = await ensureDevCertificate(config.dataDir);
    if (dev.created) this.#options.logger.warn({ dir: config.dataDir }, 'DEVELOPMENT SETTING: generated a self-signed TLS certificate for localhost');
    this.#source = dev.cert + dev.key;
    return { cert: dev.cert, key: dev.key, minVersion: tls.minVersion };
  }

  /** Puts the start's settings in force on the listener `create` makes from them, and returns it. */
  serve(tls: TlsMaterial, create: (tls: TlsMaterial) => HttpsServer, ticketKeyRotationMs: number): HttpsServer {
    this.#tls = tls;
    this.#reportCertificateExpiry(tls.cert);
    this.#https = create(tls);
    this.#ticketKeys = new TicketKeyRotation(this.#https, ticketKeyRotationMs);
    return this.#https;
  }

  /** From now on the listener offers the CA's current roots as client CA names. */
  followClientCa(extensions: readonly GatewayExtension[]): void {
    this.#unfollowClientCa = followClientCaBundle(extensions, () => this.#tls!.ca, (ca) => this.#setClientCa(ca));
  }

  /** Stops following the CA (shutdown). */
  unfollowClientCa(): void {
    this.#unfollowClientCa();
  }

  /**
   * Applies the reload's listener TLS settings: new certificate files, the lowest version and
   * the ticket key rotation interval (restart-only-changes.ts calls them live; a changed
   * minVersion was ignored whenever the certificate stayed the same, so a listener tightened to
   * TLSv1.3 went on accepting TLS 1.2).
   */
  async reload(config: Config): Promise<void> {
    const { configFile, logger } = this.#options;
    const tls = config.listeners.https.tls;
    let replaced: { cert: string; key: string } | undefined;
    let source = this.#source;
    // Without configured files the listener keeps the certificate it has (the development one).
    if (tls.cert && tls.key) {
      const files = { cert: tls.cert, key: tls.key };
      const { cert, key } = await readCertificatePair(files, configFile!);
      if (cert + key !== this.#source) {
        // What start refuses, a reload refuses too (the caller logs it and emits config.rejected);
        // the listener keeps the certificate it serves. Checked: the very bytes put in place.
        for (const w of assertCertificateServes({ cert, key }, files, configFile!)) logger.warn(w);
        replaced = { cert, key };
        source = cert + key;
      }
    }
    // Built after the files were read: client CA names the CA changed meanwhile are kept.
    const next: TlsMaterial = { ...this.#tls!, minVersion: tls.minVersion, ...replaced };
    this.#ticketKeys!.setInterval(tls.ticketKeyRotationMs);
    if (source === this.#source && next.minVersion === this.#tls!.minVersion) return;
    // Established connections keep their session; new handshakes get the new settings.
    // setSecureContext replaces the whole context: whatever is not given again (lowest version,
    // AEAD-only suites, curves, client CA) falls back to Node's defaults.
    this.#https!.setSecureContext(tlsOptions(next));
    logger.info({ minVersion: next.minVersion, certificate: source !== this.#source }, 'TLS settings reloaded');
    this.#tls = next;
    this.#source = source;
    this.#reportCertificateExpiry(next.cert);
  }

  /**
   * Offers the CA's current roots as the acceptable client CA names (tls/client-ca-names.ts).
   * Only `ca` changes; every other setting is given again from the same material. Established
   * connections keep their session. The new context has its own session ticket key and session
   * cache, so clients resume no session from before: each makes a full handshake, the one that
   * carries the new names (a resumed session keeps the certificate, or the absence of one, it was
   * made with). This happens only when the set of trusted roots changes, a rare event; the key
   * rotation schedule reaches the new context (tls/ticket-keys.ts).
   */
  #setClientCa(ca: string): void {
    if (this.#options.isDraining()) return;
    const next: TlsMaterial = { ...this.#tls!, ca };
    try {
      this.#https!.setSecureContext(tlsOptions(next));
    } catch (err) {
      // A bundle OpenSSL cannot load: the listener keeps the names it has, and says so.
      this.#options.logger.error({ err }, 'the listener\'s client certificate CA names could not be updated; it offers the previous ones');
      return;
    }
    this.#tls = next;
    this.#options.logger.info({ roots: ca.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0 }, 'client certificate CA names updated to the trusted roots');
  }

  /** The served certificate's expiry as a gauge: what an operator alerts on before clients see it expired. */
  #reportCertificateExpiry(pem: string | Buffer): void {
    try {
      this.#options.metrics.tlsCertificateNotAfter.set(Date.parse(new X509Certificate(pem).validTo) / 1000);
    } catch (err) {
      // Checked before it was put in place; a chain Node serves but cannot parse here is only not reported.
      this.#options.logger.warn({ err }, 'the served certificate\'s expiry could not be read for the metrics');
    }
  }
}
