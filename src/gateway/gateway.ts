/**
 * A running Gatehouse instance: listeners, the current generation, reloads and shutdown.
 *
 * Reload is validate-then-swap: the new file is parsed, validated and compiled into a
 * complete generation before anything changes; an invalid file is refused (the old
 * generation keeps serving, an error is logged and a `config.rejected` event emitted).
 */
import { X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { ServerResponse as NodeServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DestinationStream, Logger } from 'pino';
import { loadConfigFile, parseConfig, ConfigError, formatProblems, type LoadedConfig, type ConfigProblem } from '../core/config/load.ts';
import type { Config } from '../core/config/schema.ts';
import { createLogger } from '../observability/logger.ts';
import { createLiveRedactor, type LiveRedactor } from '../audit/live-redactor.ts';
import { createMetrics, type GatewayMetrics } from '../observability/metrics.ts';
import { HealthRegistry } from '../observability/health.ts';
import { createOpsServer, type OpsAction } from '../observability/ops-server.ts';
import { RequestContext, type Stage } from './context.ts';
import { buildGeneration, type Generation } from './generation.ts';
import { redactionWithCredentials } from './upstream/credentials.ts';
import { restartOnlyChanges } from './restart-only-changes.ts';
import { selfUpstreamProblems } from '../core/config/self-upstream.ts';
import { watchPath, type PathWatcher } from '../core/watch/path-watcher.ts';
import { CertificateFilesWatch } from './tls/certificate-watch.ts';
import { fileFingerprint } from '../core/watch/fingerprint.ts';
import { listen, closeServer } from './server-lifecycle.ts';
import type { InternalHandler } from './internal-handler.ts';
import { RequestMetrics } from './request-metrics.ts';
import { destroyPools, type WorkloadTls } from './upstream/pools.ts';
import { TunnelRegistry } from './upstream/tunnels.ts';
import { tunnelsEndedByReload } from './upstream/tunnels-after-reload.ts';
import { failRequest, runPipeline } from './pipeline/run.ts';
import { recordRequest, type AccessEventSink } from './pipeline/record.ts';
import { createPublicServer, clientErrorOf, isHttpClientError, tlsOptions, type TlsMaterial } from './listeners.ts';
import { createRedirectServer, type RedirectAccess } from './redirect-server.ts';
import { parserRefusalContext, PARSE_STAGE } from './http/parser-refusal.ts';
import { requestInBody, whenAnswered } from './http/pipelined-parse-error.ts';
import { ensureDevCertificate } from './tls/dev-certificate.ts';
import { assertCertificateServes, readCertificatePair } from './tls/check-certificate.ts';
import { TicketKeyRotation } from './tls/ticket-keys.ts';
import { clientCaBundle, followClientCaBundle } from './tls/client-ca-names.ts';
import { prepareDataDirectory } from '../core/config/data-directory.ts';
import { createRequestTracer, type RequestTracer } from '../observability/tracing/request-tracer.ts';

/**
 * Each response's request, for a parser failure on its socket while it is in progress (see
 * #clientError). A property on the response, not a WeakMap: a WeakMap entry per request cost
 * ~15 µs of CPU per request under load (ephemeron work in every scavenge; bare-ab.ts A/B).
 */
const CONTEXT = Symbol('gatehouse.requestContext');
type ResponseWithContext = ServerResponse & { [CONTEXT]?: RequestContext };
/**
 * A pipelined request's response waits in Node's queue, out of reach, until the answers before
 * it are written: such a request carries its context itself, for a parser failure in its body.
 */
type RequestWithContext = IncomingMessage & { [CONTEXT]?: RequestContext };

export interface GatewayOptions {
  /** Config file to load (and watch). Without it, built-in defaults are used. */
  configFile?: string;
  /** An already-loaded config (tests). */
  config?: LoadedConfig;
  /**
   * The logger to use. Without it the gateway builds one whose redaction follows reloads of
   * `audit.redact`; a logger given here keeps whatever redaction its owner gave it.
   */
  logger?: Logger;
  /** Where the gateway's own logger writes (default: stdout). Ignored with `logger`. */
  logDestination?: DestinationStream;
  /** Extra environment for ${VAR} substitution (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Watch the config file and reload on change (default true when configFile is given). */
  watch?: boolean;
  /** Install a SIGHUP handler that reloads (default true for the CLI, false in tests). */
  handleSignals?: boolean;
  /** Components (identity, policy, audit…) that add stages, internal handlers and health checks. */
  extensions?: GatewayExtension[];
  /** Builds the extensions from the loaded configuration (the composition root; see compose.ts). */
  compose?: (config: Config, logger: Logger, context: ComposeContext) => Promise<GatewayExtension[]>;
}

/** What the composition root gets besides the config. */
export interface ComposeContext {
  configFile: string | undefined;
  /** The public listener's certificate chain (PEM): what Gatehouse's own clients of its public URL must trust. */
  publicCertificatePem: string;
}

/** What a reload did, as told to extensions (for the `config.reloaded`/`config.rejected` events). */
export type ReloadOutcome =
  | { applied: true; version: number; source: string; routes: number; changedKeys: string[]; restartOnly: string[]; config: Config }
  | { applied: false; source: string; problems: ConfigProblem[] };

/** How a component plugs into the gateway without the gateway knowing its internals. */
export interface GatewayExtension {
  readonly name: string;
  start?(gateway: Gateway): Promise<void>;
  /** Internal endpoints served on the public listener. */
  internalHandlers?(): InternalHandler[];
  /** Stages by slot; the order of slots is fixed in pipeline/stages.ts. */
  stages?(config: Config): Partial<Record<StageSlot, Stage>>;
  /** Extra cross-field config validation, run before a config is accepted. */
  validate?(config: Config): ConfigProblem[];
  /** Receives every finished request (access event). */
  onRequest?: AccessEventSink;
  /**
   * Told about every reload attempt, applied or refused. An applied one is told synchronously
   * right after the swap, so settings applied here (detection rules, audit policy) are in
   * force for every event after it.
   */
  onReload?(outcome: ReloadOutcome): void;
  /** The gateway's own workload certificate for mutual TLS to upstreams (the PKI component). */
  workloadTls?(): WorkloadTls;
  /** CA certificates (PEM) whose client certificates the public listener asks for. */
  clientCaBundle?(): string;
  /**
   * Calls `listener` whenever `clientCaBundle()` may have changed (the CA was read again);
   * returns the function that stops calling it. The listener then offers the new names.
   */
  onClientCaBundleChange?(listener: () => void): () => void;
  /** Operator actions served on the ops listener as `POST <path>`. */
  opsActions?(): Record<string, OpsAction>;
  stop?(): Promise<void>;
}

export type StageSlot = 'blockAddress' | 'edgeRateLimit' | 'authenticate' | 'blockIdentity' | 'stepUp' | 'authorize' | 'approve' | 'rateLimit' | 'identity';

export interface GatewayAddresses { https: AddressInfo; http: AddressInfo | undefined; ops: AddressInfo }

export class Gateway {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly health: HealthRegistry;
  readonly configFile: string | undefined;
  /** Open WebSocket tunnels: extensions close those whose credential ends (revocation, block). */
  readonly tunnels = new TunnelRegistry();
  extensions: GatewayExtension[];
  #generation!: Generation;
  #requestMetrics: RequestMetrics;
  #https!: HttpsServer;
  #http: HttpServer | undefined;
  #ops!: HttpServer;
  #watcher: PathWatcher | undefined;
  #certificateWatch: CertificateFilesWatch | undefined;
  /** The config file's fingerprint when start read it (the watch's starting point). */
  #startFingerprint: string | undefined;
  #reloading: Promise<unknown> = Promise.resolve();
  #draining = false;
  #inflight = 0;
  /** Sockets of upgrade requests (WebSocket tunnels once switched): Node's server no longer tracks them. */
  #upgradeSockets = new Set<Duplex>();
  #tlsSource = '';
  /** The listener's TLS settings as started (client CA included), the base of every certificate reload. */
  #tls: TlsMaterial | undefined;
  /** Replaces the listener's session ticket key on a schedule (see tls/ticket-keys.ts). */
  #ticketKeys: TicketKeyRotation | undefined;
  /** Stops the listener's client CA names following the CA (see tls/client-ca-names.ts). */
  #unfollowClientCa: () => void = () => {};
  #env: NodeJS.ProcessEnv;
  #onSighup = () => { void this.reload('SIGHUP'); };
  #sinks: AccessEventSink[] = [];
  /** Span export (`tracing`), built once at start; undefined when off. */
  #tracer: RequestTracer | undefined;
  /** The redaction of the logger the gateway built (none when it was given one). */
  #logRedactor: LiveRedactor | undefined;
  /** Held responses whose socket a parser error closes once they are written (see #clientError; rare, so a WeakSet). */
  #endAfterFinish = new WeakSet<ServerResponse>();
  /** Connections whose parser failed behind complete requests, refused once these are answered (see #clientError; rare, so a WeakSet). */
  #refuseWhenAnswered = new WeakSet<Duplex>();

  private constructor(loaded: LoadedConfig, options: GatewayOptions) {
    const config = loaded.config;
    this.configFile = options.configFile;
    this.#env = options.env ?? process.env;
    if (options.logger) {
      this.logger = options.logger;
    } else {
      this.#logRedactor = createLiveRedactor(redactionWithCredentials(config));
      this.logger = createLogger({ level: config.logging.level, instanceId: config.instanceId, redactor: this.#logRedactor, ...(options.logDestination ? { destination: options.logDestination } : {}) });
    }
    this.metrics = createMetrics({ inflight: () => this.#inflight });
    this.health = new HealthRegistry(config.instanceId!);
    this.#requestMetrics = new RequestMetrics(this.metrics);
    this.health.setTraffic(() => this.#requestMetrics.traffic.summary(Date.now()));
    this.#tracer = createRequestTracer(config.tracing, { logger: this.logger, metrics: this.metrics, instanceId: config.instanceId! });
    // A sink like audit's: each recorded request's span is built then, from its context.
    if (this.#tracer) this.#sinks.push(this.#tracer.record);
    this.extensions = options.extensions ?? [];
  }

  /** Loads the configuration, prepares the data directory and starts every listener. */
  static async start(options: GatewayOptions = {}): Promise<Gateway> {
    // Before the file is read: a change made while starting is then reloaded once watched.
    const fingerprint = options.configFile ? await fileFingerprint(resolve(options.configFile)) : undefined;
    const loaded = options.config ?? (options.configFile
      ? await loadConfigFile(resolve(options.configFile), { env: options.env ?? process.env })
      : parseConfig({}, { env: options.env ?? process.env, source: '(defaults)' }));
    const gateway = new Gateway(loaded, options);
    gateway.#startFingerprint = fingerprint;
    try {
      await gateway.#start(loaded, options);
    } catch (err) {
      // Whatever was opened (store, bus, listeners) is closed again: a failed start leaves nothing behind.
      for (const ext of [...gateway.extensions].reverse()) await ext.stop?.().catch(() => undefined);
      for (const server of [gateway.#https, gateway.#http, gateway.#ops]) if (server?.listening) server.close();
      throw err;
    }
    return gateway;
  }

  get config(): Config { return this.#generation.config; }
  get generation(): Generation { return this.#generation; }
  get draining(): boolean { return this.#draining; }

  addresses(): GatewayAddresses {
    return {
      https: this.#https.address() as AddressInfo,
      http: this.#http?.address() as AddressInfo | undefined,
      ops: this.#ops.address() as AddressInfo,
    };
  }

  /** Subscribes to every finished request (used by audit and tests). */
  onRequest(sink: AccessEventSink): void { this.#sinks.push(sink); }

  async #start(loaded: LoadedConfig, options: GatewayOptions): Promise<void> {
    const config = loaded.config;
    for (const w of loaded.warnings) {
      this.logger.warn({ path: w.path.join('.') }, `DEVELOPMENT SETTING: ${w.message} — refused when NODE_ENV=production`);
    }
    // The checks `gatehouse start` makes before it calls this, made here too for embedders of
    // Gateway.start: a listener certificate that cannot serve, then (before anything is written
    // into it) a data directory others can write to.
    const source = loaded.source ?? '(defaults)';
    const configuredTls = await this.#configuredTls(config, source);
    const dataDir = await prepareDataDirectory(config.dataDir, source);
    for (const w of dataDir.warnings) this.logger.warn(w);
    const tls = configuredTls ?? await this.#devTls(config);
    if (options.compose) this.extensions = [...this.extensions, ...await options.compose(config, this.logger, { configFile: this.configFile, publicCertificatePem: tls.cert })];
    for (const ext of this.extensions) await ext.start?.(this);
    this.#generation = this.#compile(config, 1, undefined);
    // Client certificates are requested but not enforced by TLS: the authenticate stage
    // verifies them (chain, SPIFFE id, revocation) for routes that accept mTLS.
    const clientCa = config.listeners.https.clientCertificates === 'optional' ? clientCaBundle(this.extensions) : undefined;
    if (clientCa) tls.ca = clientCa;
    this.#tls = tls;
    this.#reportCertificateExpiry(tls.cert);

    this.#https = createPublicServer(tls, config.limits, (req, res) => this.#handle(req, res, undefined),
      (req, socket, head) => this.#handleUpgrade(req, socket, head), (err, socket) => this.#clientError(err, socket));
    this.#ticketKeys = new TicketKeyRotation(this.#https, config.listeners.https.tls.ticketKeyRotationMs);
    // `clientCertificates` is restart-only: a listener that asks for none never starts asking.
    if (clientCa) this.#unfollowClientCa = followClientCaBundle(this.extensions, () => this.#tls!.ca, (ca) => this.#setClientCa(ca));
    const actions = new Map<string, OpsAction>(this.extensions.flatMap((e) => Object.entries(e.opsActions?.() ?? {})));
    this.#ops = createOpsServer({ health: this.health, registry: this.metrics.registry, isDraining: () => this.#draining, actions: () => actions }, { allowedHosts: config.listeners.ops.allowedHosts, maxConnections: config.listeners.ops.maxConnections });
    const listeners: Promise<void>[] = [
      listen(this.#https, config.listeners.https.port, config.listeners.https.host),
      listen(this.#ops, config.listeners.ops.port, config.listeners.ops.host),
    ];
    if (config.listeners.http.enabled) {
      this.#http = createRedirectServer(redirectPort(config, config.listeners.https.port), config.limits, this.#logRedirect);
      listeners.push(listen(this.#http, config.listeners.http.port, config.listeners.http.host));
    }
    await Promise.all(listeners);
    // The redirect needs the real HTTPS port when it was ephemeral (tests).
    if (this.#http && config.listeners.https.port === 0 && redirectPort(config, 0) === 0) {
      this.#http.removeAllListeners('request');
      const fresh = createRedirectServer(this.addresses().https.port, config.limits, this.#logRedirect);
      for (const l of fresh.listeners('request')) this.#http.on('request', l as (req: IncomingMessage, res: ServerResponse) => void);
    }
    if (this.configFile && options.watch !== false) await this.#watch();
    if (options.handleSignals) process.on('SIGHUP', this.#onSighup);
    const a = this.addresses();
    this.logger.info({ https: `${a.https.address}:${a.https.port}`, http: a.http ? `${a.http.address}:${a.http.port}` : undefined, ops: `${a.ops.address}:${a.ops.port}`, mode: config.mode, routes: config.routes.length, config: loaded.source ?? '(defaults)' }, 'gatehouse started');
  }

  /** The configured certificate, checked as start checks it; undefined when none is configured. */
  async #configuredTls(config: Config, source: string): Promise<TlsMaterial | undefined> {
    const tls = config.listeners.https.tls;
    if (!tls.cert || !tls.key) return undefined;
    const files = { cert: tls.cert, key: tls.key };
    const { cert, key } = await readCertificatePair(files, source);
    for (const w of assertCertificateServes({ cert, key }, files, source)) this.logger.warn(w);
    this.#tlsSource = cert + key;
    return { cert, key, minVersion: tls.minVersion };
  }

  async #devTls(config: Config): Promise<TlsMaterial> {
    const tls = config.listeners.https.tls;
    const dev = await ensureDevCertificate(config.dataDir);
    if (dev.created) this.logger.warn({ dir: config.dataDir }, 'DEVELOPMENT SETTING: generated a self-signed TLS certificate for localhost');
    this.#tlsSource = dev.cert + dev.key;
    return { cert: dev.cert, key: dev.key, minVersion: tls.minVersion };
  }

  /** Compiles a configuration into a generation. Throws; changes nothing. */
  #compile(config: Config, version: number, previous: Generation | undefined): Generation {
    return buildGeneration(config, version, previous, this.extensions, { metrics: this.#requestMetrics, logger: this.logger, record: this.#record, tunnels: this.tunnels, traceSampleRatio: this.#tracer?.sampleRatio ?? 0, traceClientSampledFlag: this.#tracer?.clientSampledFlag ?? 'follow' });
  }

  /** Validates the configuration file again and swaps it in if (and only if) it is valid. */
  reload(reason = 'manual'): Promise<{ applied: boolean; problems?: ConfigProblem[] }> {
    const run = this.#reloading.then(() => this.#reload(reason));
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  async #reload(reason: string): Promise<{ applied: boolean; problems?: ConfigProblem[] }> {
    if (!this.configFile) return { applied: false, problems: [{ path: [], message: 'no configuration file to reload' }] };
    const current = this.#generation;
    try {
      const loaded = await loadConfigFile(resolve(this.configFile), {
        env: this.#env,
        runningMode: current.config.mode,
        refuseEmpty: true,
        crossCheck: (c) => [...selfUpstreamProblems(c), ...this.extensions.flatMap((e) => e.validate?.(c) ?? [])],
      });
      const restartOnly = restartOnlyChanges(current.config, loaded.config);
      const next = this.#compile(loaded.config, current.version + 1, current);
      await this.#maybeRotateTls(loaded.config);
      this.#generation = next;
      // Tunnels authorized under settings this reload changed are judged again, by reconnecting.
      const ended = tunnelsEndedByReload(current.config, loaded.config);
      const closedTunnels = this.tunnels.closeWhere((t) => ended(t.routeId), 'configuration changed');
      if (closedTunnels > 0) this.logger.info({ tunnels: closedTunnels }, 'WebSocket tunnels closed: the configuration that authorized them changed');
      this.#requestMetrics.keepUpstreams(Object.keys(loaded.config.upstreams));
      // Files a reload named anew are watched from here on; a failed watch leaves the reload applied (the 5 s poll still looks).
      await this.#certificateWatch?.sync(certificateFiles(loaded.config)).catch((err: unknown) => this.logger.error({ err }, 'certificate file watch failed'));
      // Before the first line logged under the new configuration.
      this.#logRedactor?.update(redactionWithCredentials(loaded.config));
      // Only a logger the gateway made is its to change (an embedder's is the embedder's).
      if (this.#logRedactor && this.logger.level !== loaded.config.logging.level) this.logger.level = loaded.config.logging.level;
      this.metrics.configReloads.labels('applied').inc();
      this.logger.info({ reason, version: next.version, routes: loaded.config.routes.length, restartOnly }, 'configuration reloaded');
      if (restartOnly.length) this.logger.warn({ keys: restartOnly }, 'these settings change only on restart');
      const changedKeys = Object.keys(loaded.config).filter((k) => JSON.stringify(current.config[k as keyof Config]) !== JSON.stringify(loaded.config[k as keyof Config]));
      this.#tell({ applied: true, version: next.version, source: this.configFile, routes: loaded.config.routes.length, changedKeys, restartOnly, config: loaded.config });
      return { applied: true };
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [{ path: [], message: (err as Error).message }];
      this.metrics.configReloads.labels('rejected').inc();
      this.logger.error({ reason, version: current.version, problems: formatProblems(problems) }, 'configuration reload refused; the previous configuration keeps serving');
      this.#tell({ applied: false, source: this.configFile, problems });
      return { applied: false, problems };
    }
  }

  #tell(outcome: ReloadOutcome): void {
    for (const ext of this.extensions) {
      try { ext.onReload?.(outcome); } catch (err) { this.logger.error({ err, extension: ext.name }, 'reload hook failed'); }
    }
  }

  /**
   * Applies the reload's listener TLS settings: new certificate files, the lowest version and
   * the ticket key rotation interval (restart-only-changes.ts calls them live; a changed
   * minVersion was ignored whenever the certificate stayed the same, so a listener tightened to
   * TLSv1.3 went on accepting TLS 1.2).
   */
  async #maybeRotateTls(config: Config): Promise<void> {
    const tls = config.listeners.https.tls;
    let replaced: { cert: string; key: string } | undefined;
    let source = this.#tlsSource;
    // Without configured files the listener keeps the certificate it has (the development one).
    if (tls.cert && tls.key) {
      const files = { cert: tls.cert, key: tls.key };
      const { cert, key } = await readCertificatePair(files, this.configFile!);
      if (cert + key !== this.#tlsSource) {
        // What start refuses, a reload refuses too (the caller logs it and emits config.rejected);
        // the listener keeps the certificate it serves. Checked: the very bytes put in place.
        for (const w of assertCertificateServes({ cert, key }, files, this.configFile!)) this.logger.warn(w);
        replaced = { cert, key };
        source = cert + key;
      }
    }
    // Built after the files were read: client CA names the CA changed meanwhile are kept.
    const next: TlsMaterial = { ...this.#tls!, minVersion: tls.minVersion, ...replaced };
    this.#ticketKeys!.setInterval(tls.ticketKeyRotationMs);
    if (source === this.#tlsSource && next.minVersion === this.#tls!.minVersion) return;
    // Established connections keep their session; new handshakes get the new settings.
    // setSecureContext replaces the whole context: whatever is not given again (lowest version,
    // AEAD-only suites, curves, client CA) falls back to Node's defaults.
    this.#https.setSecureContext(tlsOptions(next));
    this.logger.info({ minVersion: next.minVersion, certificate: source !== this.#tlsSource }, 'TLS settings reloaded');
    this.#tls = next;
    this.#tlsSource = source;
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
    if (this.#draining) return;
    const next: TlsMaterial = { ...this.#tls!, ca };
    try {
      this.#https.setSecureContext(tlsOptions(next));
    } catch (err) {
      // A bundle OpenSSL cannot load: the listener keeps the names it has, and says so.
      this.logger.error({ err }, 'the listener\'s client certificate CA names could not be updated; it offers the previous ones');
      return;
    }
    this.#tls = next;
    this.logger.info({ roots: ca.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0 }, 'client certificate CA names updated to the trusted roots');
  }

  /** The served certificate's expiry as a gauge: what an operator alerts on before clients see it expired. */
  #reportCertificateExpiry(pem: string | Buffer): void {
    try {
      this.metrics.tlsCertificateNotAfter.set(Date.parse(new X509Certificate(pem).validTo) / 1000);
    } catch (err) {
      // Checked before it was put in place; a chain Node serves but cannot parse here is only not reported.
      this.logger.warn({ err }, 'the served certificate\'s expiry could not be read for the metrics');
    }
  }

  /**
   * Reloads when the file's content changes, whichever way it was replaced (see
   * core/watch/path-watcher.ts): 150 ms after the last event, or at the latest at the next
   * 5 s poll when no event could reach the watch.
   */
  async #watch(): Promise<void> {
    const file = resolve(this.configFile!);
    this.#watcher = watchPath(file, {
      fingerprint: () => fileFingerprint(file),
      ...(this.#startFingerprint === undefined ? {} : { initial: this.#startFingerprint }),
      debounceMs: 150,
      pollMs: 5000,
      // The listeners keep the process running; the watch must not hold it after stop().
      persistent: false,
      onChange: () => this.reload('file changed'),
      onError: (err) => this.logger.error({ err, file }, 'configuration file watch failed; the poll still looks at it'),
    });
    await this.#watcher.ready;
    this.#certificateWatch = new CertificateFilesWatch((changed) => this.reload(`certificate file changed: ${changed}`), this.logger);
    await this.#certificateWatch.sync(certificateFiles(this.#generation.config));
  }

  #handle(req: IncomingMessage, res: ServerResponse, upgradeSocket: Duplex | undefined, upgradeHead?: Buffer): RequestContext {
    const ctx = new RequestContext(req, res, this.#generation);
    ctx.upgradeSocket = upgradeSocket;
    ctx.upgradeHead = upgradeHead;
    (res as ResponseWithContext)[CONTEXT] = ctx;
    if (res.socket === null) (req as RequestWithContext)[CONTEXT] = ctx;
    this.#inflight++;
    // One listener per request for everything that happens at close ('on', not 'once': the
    // once-wrapper costs an allocation and a removal per request; #closed guards repeats).
    res.on('close', () => this.#closed(ctx));
    if (this.#draining) res.shouldKeepAlive = false;
    runPipeline(ctx, ctx.gen.stages, ctx.gen.stageNames);
    return ctx;
  }

  #closed(ctx: RequestContext): void {
    if (ctx.closed) return;
    ctx.closed = true;
    this.#inflight--;
    this.#record(ctx);
    // After recording, so that a response cut short is recorded as such before the abort.
    ctx.exchange?.onClientClose();
  }

  #record = (ctx: RequestContext): void => { recordRequest(ctx, this.#dispatchRecord); };

  /** The plain-HTTP listener's requests get their access line too (redirects and refusals). */
  #logRedirect = (line: RedirectAccess): void => {
    if (this.#generation.config.logging.accessLog) this.logger.info(line, 'request');
  };

  #dispatchRecord: AccessEventSink = (ctx, status, durationMs) => {
    for (const sink of this.#sinks) sink(ctx, status, durationMs);
    for (const ext of this.extensions) ext.onRequest?.(ctx, status, durationMs);
  };

  #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer | undefined): void {
    // An upgrade (or CONNECT) pipelined behind a request whose response is still being written:
    // Node hands the socket over at once. It is handled in order, once that response is done;
    // assigning it a response now threw out of Node's parser callback (uncaught: the process
    // ended). If that response closes the connection, the upgrade's answer could never be sent.
    const pending = (socket as { _httpMessage?: (ServerResponse & { _last?: boolean }) | null })._httpMessage;
    if (pending) {
      this.#upgradeSockets.add(socket);
      socket.once('close', () => this.#upgradeSockets.delete(socket));
      pending.once('finish', () => {
        if (pending._last || !socket.writable) { socket.destroy(); return; }
        this.#handleUpgrade(req, socket, head);
      });
      pending.once('close', () => { if (!pending.writableFinished) socket.destroy(); });
      return;
    }
    // Give the upgrade request a response object on its socket, so early exits use the
    // same error path as every other request.
    const res = new NodeServerResponse(req);
    res.shouldKeepAlive = false;
    this.#upgradeSockets.add(socket);
    socket.once('close', () => this.#upgradeSockets.delete(socket));
    res.assignSocket(socket as never);
    // #handle runs the pipeline's synchronous stages at once: the head must be on the context before.
    const ctx = this.#handle(req, res, socket, head !== undefined && head.length > 0 ? head : undefined);
    // An upgrade refused with an error response is over: close the socket behind it.
    res.once('finish', () => { if (!ctx.upgraded) socket.end(); });
  }

  #clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
    if (!isHttpClientError(err)) {
      // A TLS failure: no request, so no access line; counted and logged as what it is.
      socket.destroy();
      this.#requestMetrics.error('none', 'ERR_TLS_HANDSHAKE_FAILED');
      this.logger.info({ type: 'tls', code: 'ERR_TLS_HANDSHAKE_FAILED', detail: `${err.code ?? ''} ${err.message}`, client: (socket as { remoteAddress?: string }).remoteAddress }, 'TLS handshake failed');
      return;
    }
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    const current = inFlight ? (inFlight as ResponseWithContext)[CONTEXT] : undefined;
    // A response Gatehouse did not make (none: #handle marks every one). No second response
    // may be assigned to its socket; Node's assignSocket would throw out of this listener.
    if (inFlight && current === undefined) { socket.destroy(); return; }
    // No request in flight: a head the parser refused. It is answered and recorded like any
    // early exit (one access line, metrics, the `gateway.request` event and its audit record,
    // the answer held until that record is spooled): see http/parser-refusal.ts.
    if (current === undefined) { this.#refuseHead(socket, err); return; }
    // Whose failure it is (http/pipelined-parse-error.ts): the request whose body the parser was
    // reading; a refused head's own answer in progress (a parser error repeats for every later
    // chunk of it); else bytes behind complete requests, which get their answers first.
    const body = requestInBody(socket);
    const ctx = body === undefined ? (current.stage === PARSE_STAGE ? current : undefined)
      : body === current.req ? current : (body as RequestWithContext)[CONTEXT];
    if (ctx === undefined) {
      if (body !== undefined) { socket.destroy(); return; }
      // Refused once no answer is in progress on the connection, and only if it is still open
      // then: behind an answer that closes it (the client's Connection: close, a refusal), the
      // bytes are not a request of this connection and nothing is answered.
      if (this.#refuseWhenAnswered.has(socket)) return;
      this.#refuseWhenAnswered.add(socket);
      whenAnswered(socket, () => {
        this.#refuseWhenAnswered.delete(socket);
        if (socket.writable) this.#refuseHead(socket, err);
      });
      return;
    }
    // A failure inside the body of a request already being handled (a broken chunk, a body
    // slower than requestTimeoutMs) is that request's outcome, recorded once, by the request:
    // answered with its own id through the one error path while its response has not started,
    // else cut (never a second response written inside one under way, as Node's own handler
    // guards). Answered here instead, it was counted twice and its raw 400 landed in the
    // middle of a streamed response body. A pipelined request's answer waits in Node's queue
    // behind the answers before it.
    // Recorded: its response is complete and being written; close behind it. A response
    // still held for its audit record (ctx.finishHold) has not been written yet: ended now,
    // the socket would take the held answer's bytes as a write after end and drop them (a
    // parser error repeats for every later chunk of a refused head, within the same turn).
    if (ctx.recorded) {
      if (ctx.finishHold === undefined && ctx === current) socket.end();
      else if (!this.#endAfterFinish.has(ctx.res)) {
        this.#endAfterFinish.add(ctx.res);
        ctx.res.once('finish', () => socket.end());
      }
      return;
    }
    // The client hung up in the middle of its body: the request records itself as cut short (499).
    if (err.code === 'HPE_INVALID_EOF_STATE') { socket.destroy(); return; }
    const error = clientErrorOf(err);
    if (ctx.handled) {
      // An internal handler owns this response: cut it, and let the record say why.
      ctx.error ??= error;
      socket.destroy();
      return;
    }
    ctx.exchange?.onClientClose();
    // The parser is done with this connection: the answer says so (it said keep-alive, and the
    // socket closed behind it all the same).
    ctx.res.shouldKeepAlive = false;
    failRequest(ctx, error);
  }

  /** Answers and records a head the parser refused, on a connection with no response in progress. */
  #refuseHead(socket: Duplex, err: NodeJS.ErrnoException): void {
    const refused = parserRefusalContext(socket, this.#generation);
    // Marked like a request's response: a second parser error or timeout on this socket finds
    // it in flight (recorded) and only closes behind it, instead of answering again.
    (refused.res as ResponseWithContext)[CONTEXT] = refused;
    failRequest(refused, clientErrorOf(err));
  }

  /** Stops accepting, lets in-flight requests finish (up to the grace period), then closes. */
  async stop(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    process.off('SIGHUP', this.#onSighup);
    this.#watcher?.close();
    this.#certificateWatch?.close();
    this.#unfollowClientCa();
    const grace = this.#generation.config.limits.shutdownGraceMs;
    const closed = Promise.all([closeServer(this.#https), this.#http ? closeServer(this.#http) : undefined]);
    this.#https.closeIdleConnections();
    this.#http?.closeIdleConnections();
    const deadline = Date.now() + grace;
    while (this.#inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    this.#https.closeAllConnections();
    this.#http?.closeAllConnections();
    // closeAllConnections does not reach an upgraded socket (its HTTP parser is gone), and
    // server.close waits for it: a tunnel left open would hold shutdown for as long as the client likes.
    for (const socket of this.#upgradeSockets) socket.destroy();
    await closed;
    // Every request is recorded by now: send their spans before the components stop.
    await this.#tracer?.shutdown();
    for (const ext of [...this.extensions].reverse()) await ext.stop?.();
    await destroyPools(this.#generation.upstreams.values());
    await closeServer(this.#ops);
    this.logger.info({ abandoned: this.#inflight }, 'gatehouse stopped');
    this.logger.flush?.();
  }
}

/**
 * The HTTPS port the redirect listener sends clients to: the public one when `publicUrl` says
 * it (behind a load balancer that maps 443 to the listener's 8443, redirecting to 8443 would
 * send browsers to a port nobody serves), else the listener's own.
 */
export /** The listener's configured certificate and key files (none: the development certificate). */
function certificateFiles(config: Config): string[] {
  const { cert, key } = config.listeners.https.tls;
  return cert && key ? [cert, key] : [];
}

function redirectPort(config: Config, httpsPort: number): number {
  if (config.publicUrl === undefined) return httpsPort;
  const port = new URL(config.publicUrl).port;
  const publicPort = port === '' ? 443 : Number(port);
  // The default publicUrl carries the listener's configured port (0 when ephemeral, in tests).
  return publicPort === config.listeners.https.port ? httpsPort : publicPort;
}
