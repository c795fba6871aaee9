/**
 * A running Gatehouse instance: listeners, the current generation, reloads and shutdown.
 *
 * Reload is validate-then-swap: the new file is parsed, validated and compiled into a
 * complete generation before anything changes; an invalid file is refused (the old
 * generation keeps serving, an error is logged and a `config.rejected` event emitted).
 *
 * The parts live beside it: request-intake.ts and client-error.ts (what the public listener
 * receives), tls/listener-tls.ts (its TLS settings), config-watch.ts, drain.ts (shutdown).
 */
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import { loadConfigFile, parseConfig, ConfigError, formatProblems, type LoadedConfig, type ConfigProblem } from '../core/config/load.ts';
import type { Config } from '../core/config/schema.ts';
import { createLogger } from '../observability/logger.ts';
import { createLiveRedactor, type LiveRedactor } from '../audit/live-redactor.ts';
import { createMetrics, type GatewayMetrics } from '../observability/metrics.ts';
import { HealthRegistry } from '../observability/health.ts';
import { createOpsServer, type OpsAction } from '../observability/ops-server.ts';
import type { RequestContext } from './context.ts';
import { buildGeneration, type Generation } from './generation.ts';
import { redactionWithCredentials } from './upstream/credentials.ts';
import { restartOnlyChanges } from './restart-only-changes.ts';
import { selfUpstreamProblems } from '../core/config/self-upstream.ts';
import { fileFingerprint } from '../core/watch/fingerprint.ts';
import { listen, closeServer } from './server-lifecycle.ts';
import { RequestMetrics } from './request-metrics.ts';
import { destroyPools } from './upstream/pools.ts';
import { TunnelRegistry } from './upstream/tunnels.ts';
import { tunnelsEndedByReload } from './upstream/tunnels-after-reload.ts';
import { recordRequest, type AccessEventSink } from './pipeline/record.ts';
import { createPublicServer } from './listeners.ts';
import { createRedirectServer, type RedirectAccess } from './redirect-server.ts';
import { redirectPort } from './redirect-port.ts';
import { clientCaBundle } from './tls/client-ca-names.ts';
import { ListenerTls } from './tls/listener-tls.ts';
import { prepareDataDirectory } from '../core/config/data-directory.ts';
import { createRequestTracer, type RequestTracer } from '../observability/tracing/request-tracer.ts';
import { RequestIntake } from './request-intake.ts';
import { ClientErrors } from './client-error.ts';
import { ConfigWatch } from './config-watch.ts';
import { drainServers } from './drain.ts';
import type { GatewayExtension, ReloadOutcome } from './gateway-extension.ts';
import type { GatewayAddresses, GatewayOptions } from './gateway-options.ts';
import { tuneGarbageCollector } from '../core/runtime/gc-tuning.ts';

export type { GatewayExtension, ReloadOutcome, StageSlot } from './gateway-extension.ts';
export type { ComposeContext, GatewayAddresses, GatewayOptions } from './gateway-options.ts';
export { certificateFiles } from './config-watch.ts';

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
  #intake: RequestIntake;
  #clientErrors: ClientErrors;
  #listenerTls: ListenerTls;
  #https!: HttpsServer;
  #http: HttpServer | undefined;
  #ops!: HttpServer;
  #configWatch = new ConfigWatch();
  /** The config file's fingerprint when start read it (the watch's starting point). */
  #startFingerprint: string | undefined;
  #reloading: Promise<unknown> = Promise.resolve();
  #draining = false;
  #env: NodeJS.ProcessEnv;
  #onSighup = () => { void this.reload('SIGHUP'); };
  #sinks: AccessEventSink[] = [];
  /** Span export (`tracing`), built once at start; undefined when off. */
  #tracer: RequestTracer | undefined;
  /** The redaction of the logger the gateway built (none when it was given one). */
  #logRedactor: LiveRedactor | undefined;

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
    this.#intake = new RequestIntake(this, this.#record);
    this.metrics = createMetrics({ inflight: () => this.#intake.inflight });
    this.health = new HealthRegistry(config.instanceId!);
    this.#requestMetrics = new RequestMetrics(this.metrics);
    this.#clientErrors = new ClientErrors({ generation: () => this.#generation, requestMetrics: this.#requestMetrics, logger: this.logger });
    this.#listenerTls = new ListenerTls({ logger: this.logger, metrics: this.metrics, configFile: this.configFile, isDraining: () => this.#draining });
    this.health.setTraffic(() => this.#requestMetrics.traffic.summary(Date.now()));
    this.#tracer = createRequestTracer(config.tracing, { logger: this.logger, metrics: this.metrics, instanceId: config.instanceId! });
    // A sink like audit's: each recorded request's span is built then, from its context.
    if (this.#tracer) this.#sinks.push(this.#tracer.record);
    this.extensions = options.extensions ?? [];
  }

  /** Loads the configuration, prepares the data directory and starts every listener. */
  static async start(options: GatewayOptions = {}): Promise<Gateway> {
    // Process-wide V8 settings for serving (src/core/runtime/gc-tuning.ts), before anything is served.
    tuneGarbageCollector();
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
    const configuredTls = await this.#listenerTls.configured(config, source);
    const dataDir = await prepareDataDirectory(config.dataDir, source);
    for (const w of dataDir.warnings) this.logger.warn(w);
    const tls = configuredTls ?? await this.#listenerTls.development(config);
    if (options.compose) this.extensions = [...this.extensions, ...await options.compose(config, this.logger, { configFile: this.configFile, publicCertificatePem: tls.cert })];
    for (const ext of this.extensions) await ext.start?.(this);
    this.#generation = this.#compile(config, 1, undefined);
    // Client certificates are requested but not enforced by TLS: the authenticate stage
    // verifies them (chain, SPIFFE id, revocation) for routes that accept mTLS.
    const clientCa = config.listeners.https.clientCertificates === 'optional' ? clientCaBundle(this.extensions) : undefined;
    if (clientCa) tls.ca = clientCa;

    this.#https = this.#listenerTls.serve(tls, (material) => createPublicServer(material, config.limits, (req, res) => this.#intake.handle(req, res, undefined),
      (req, socket, head) => this.#intake.handleUpgrade(req, socket, head), (err, socket) => this.#clientErrors.handle(err, socket)), config.listeners.https.tls.ticketKeyRotationMs);
    // `clientCertificates` is restart-only: a listener that asks for none never starts asking.
    if (clientCa) this.#listenerTls.followClientCa(this.extensions);
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
    if (this.configFile && options.watch !== false) await this.#configWatch.start(resolve(this.configFile), this.#startFingerprint, () => this.#generation.config, (reason) => this.reload(reason), this.logger);
    if (options.handleSignals) process.on('SIGHUP', this.#onSighup);
    const a = this.addresses();
    this.logger.info({ https: `${a.https.address}:${a.https.port}`, http: a.http ? `${a.http.address}:${a.http.port}` : undefined, ops: `${a.ops.address}:${a.ops.port}`, mode: config.mode, routes: config.routes.length, config: loaded.source ?? '(defaults)' }, 'gatehouse started');
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
      await this.#listenerTls.reload(loaded.config);
      this.#generation = next;
      // Tunnels authorized under settings this reload changed are judged again, by reconnecting.
      const ended = tunnelsEndedByReload(current.config, loaded.config);
      const closedTunnels = this.tunnels.closeWhere((t) => ended(t.routeId), 'configuration changed');
      if (closedTunnels > 0) this.logger.info({ tunnels: closedTunnels }, 'WebSocket tunnels closed: the configuration that authorized them changed');
      this.#requestMetrics.keepUpstreams(Object.keys(loaded.config.upstreams));
      // Files a reload named anew are watched from here on; a failed watch leaves the reload applied (the 5 s poll still looks).
      await this.#configWatch.syncCertificates(loaded.config).catch((err: unknown) => this.logger.error({ err }, 'certificate file watch failed'));
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

  #record = (ctx: RequestContext): void => { recordRequest(ctx, this.#dispatchRecord); };

  /** The plain-HTTP listener's requests get their access line too (redirects and refusals). */
  #logRedirect = (line: RedirectAccess): void => {
    if (this.#generation.config.logging.accessLog) this.logger.info(line, 'request');
  };

  #dispatchRecord: AccessEventSink = (ctx, status, durationMs) => {
    for (const sink of this.#sinks) sink(ctx, status, durationMs);
    for (const ext of this.extensions) ext.onRequest?.(ctx, status, durationMs);
  };

  /** Stops accepting, lets in-flight requests finish (up to the grace period), then closes. */
  async stop(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    process.off('SIGHUP', this.#onSighup);
    this.#configWatch.close();
    this.#listenerTls.unfollowClientCa();
    await drainServers(this.#http ? [this.#https, this.#http] : [this.#https], this.#intake, this.#generation.config.limits.shutdownGraceMs);
    // Every request is recorded by now: send their spans before the components stop.
    await this.#tracer?.shutdown();
    for (const ext of [...this.extensions].reverse()) await ext.stop?.();
    await destroyPools(this.#generation.upstreams.values());
    await closeServer(this.#ops);
    this.logger.info({ abandoned: this.#intake.inflight }, 'gatehouse stopped');
    this.logger.flush?.();
  }
}
