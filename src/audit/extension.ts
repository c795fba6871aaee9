/**
 * The audit log as a gateway extension. Wiring is one line in the composition root:
 *
 *   extensions.push(auditExtension(platform));
 *
 * Sources:
 *   - access events come straight from the gateway's access sink (`onRequest`): written
 *     to the spool before the sink returns, they survive a killed process;
 *   - every other event comes from the bus (durable subscription `audit`, shared by all
 *     instances; on NATS an event is acknowledged only once it is in the spool).
 * `gateway.request` is not taken from the bus, where the platform publishes it too:
 * each instance records its own requests from its sink.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import { EVENT_NAMES, type EventName } from '../core/events.ts';
import type { Config } from '../core/config/schema.ts';
import type { GatewayExtension } from '../gateway/gateway.ts';
import type { Store } from '../store/types.ts';
import { accessRecord } from './access-event.ts';
import { draftFromEnvelope } from './map-event.ts';
import { createLiveRedactor, type LiveRedactor } from './live-redactor.ts';
import { redactionWithCredentials } from '../gateway/upstream/credentials.ts';
import { AccessSampler } from './sampler.ts';
import { loadOrCreateSigningKey } from './signing-key.ts';
import { AuditWriter } from './writer.ts';
import { HeldResponse } from './held-response.ts';
import { startRetention, type RetentionTask } from './retention.ts';

/** What the extension needs from the platform (`Platform` satisfies it). */
export interface AuditPlatform {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly bus: EventBus;
}

export interface AuditExtension extends GatewayExtension {
  /** The running writer (after start). */
  readonly writer: AuditWriter | undefined;
  /** Follows reloads of `audit.redact`. */
  readonly redactor: LiveRedactor;
}

/** Default locations under the data directory. */
export function auditPaths(config: Pick<Config, 'dataDir' | 'audit'>): { spoolDir: string; signingKeyFile: string } {
  return {
    spoolDir: config.audit.spoolDir ?? join(config.dataDir, 'audit-spool'),
    signingKeyFile: config.audit.signingKeyFile ?? join(config.dataDir, 'audit-signing-key.jwk'),
  };
}

export function auditExtension(platform: AuditPlatform): AuditExtension {
  const { config, store, bus } = platform;
  const logger = platform.logger.child({ component: 'audit' });
  // Upstream credentials too: a record quoting one (an upstream's error, say) must not keep it.
  const redactor = createLiveRedactor(redactionWithCredentials(config));
  /** The sampling rates in force (they follow reloads). */
  let samplingRoutes = config.audit.sampling.routes;
  const instance = config.instanceId ?? 'gatehouse';
  let writer: AuditWriter | undefined;
  let unsubscribe: (() => void) | undefined;
  let sampler: AccessSampler | undefined;
  let samplingTimer: NodeJS.Timeout | undefined;
  let retention: RetentionTask | undefined;

  const ext: AuditExtension = {
    name: 'audit',
    get writer() { return writer; },
    redactor,
    async start(gateway) {
      if (!config.audit.enabled) return;
      const paths = auditPaths(config);
      const signingKey = await loadOrCreateSigningKey(paths.signingKeyFile, { mode: config.mode, logger });
      const w = AuditWriter.open({
        store, bus, logger, instance, signingKey, chain: config.audit.chain, spoolDir: paths.spoolDir, mode: config.mode, fsync: config.audit.fsync,
        batchMaxEvents: config.audit.batchMaxEvents, batchMaxDelayMs: config.audit.batchMaxDelayMs, maxQueued: config.audit.maxQueuedEvents,
        checkpointEveryRecords: config.audit.checkpoint.everyRecords, checkpointEveryMs: config.audit.checkpoint.everyMs,
        commitThread: config.audit.commitThread,
      });
      writer = w;
      sampler = new AccessSampler({ routes: samplingRoutes, instance });
      samplingTimer = setInterval(() => { for (const d of sampler!.drain()) w.append(d); }, config.audit.sampling.flushMs);
      samplingTimer.unref();
      const names = EVENT_NAMES.filter((n): n is EventName => n !== 'gateway.request');
      unsubscribe = bus.subscribe(names, (event) => { w.append(draftFromEnvelope(event, redactor), true); }, { durable: 'audit' });
      if (config.audit.retention.maxAgeDays > 0) {
        retention = startRetention(store, { chain: config.audit.chain, maxAgeMs: config.audit.retention.maxAgeDays * 86_400_000, intervalMs: 3_600_000, signingKey, logger });
      }
      gateway.health.register('audit', async () => {
        const s = w.stats();
        if (s.spoolFailingSince !== undefined) {
          return { ok: false, latencyMs: 0, detail: `spool writes failing since ${new Date(s.spoolFailingSince).toISOString()}; ${s.queued} events queued in memory` };
        }
        return s.failingSince === undefined
          ? { ok: true, latencyMs: 0 }
          : { ok: false, latencyMs: 0, detail: `store writes failing since ${new Date(s.failingSince).toISOString()}; ${s.queued} events spooled` };
      });
    },
    /**
     * Redaction rules and per-route sampling rates follow a reload, for what is recorded
     * after the swap; counts of events sampled out so far are recorded first, at the rates
     * they were taken at. The writer (chain, spool, batching, checkpoints, signing key) and the
     * timers (sampling flush, retention) keep their start settings: restart-only-changes.ts.
     */
    onReload(outcome) {
      if (!outcome.applied) return;
      const next = outcome.config.audit;
      redactor.update(redactionWithCredentials(outcome.config));
      if (JSON.stringify(next.sampling.routes) === JSON.stringify(samplingRoutes)) return;
      samplingRoutes = next.sampling.routes;
      if (!writer || !sampler) return;
      for (const d of sampler.drain()) writer.append(d);
      sampler.setRoutes(samplingRoutes);
    },
    onRequest(ctx, status, durationMs) {
      if (!writer || !sampler) return;
      if (!sampler.keep(ctx.route?.id, status, ctx.error !== undefined)) return;
      try {
        // A response about to finish (forward's end, the error path) is held — its socket corked
        // and its final write deferred — until this turn's grouped spool write: one write(2) a turn
        // instead of one a request, and still no answer out before its record is in the OS
        // (test/audit/kill.test.ts).
        const socket = ctx.completing ? ctx.res.socket : null;
        writer.appendAccess(accessRecord(ctx, status, durationMs, instance, redactor), socket ? new HeldResponse(ctx, socket) : undefined);
      } catch (err) {
        logger.error({ err, requestId: ctx.requestId }, 'audit: access event could not be spooled');
      }
    },
    async stop() {
      unsubscribe?.();
      clearInterval(samplingTimer);
      await retention?.stop();
      if (writer && sampler) for (const d of sampler.drain()) writer.append(d);
      await writer?.close();
    },
  };
  return ext;
}
