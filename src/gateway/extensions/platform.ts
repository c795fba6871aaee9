/**
 * The shared platform every component stands on: the store, the event bus and the rate
 * limiter, opened once from configuration. As a gateway extension it registers their
 * health checks, fills the two rate-limit slots and publishes one `gateway.request`
 * event per finished request (the audit log's source).
 */
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Config } from '../../core/config/schema.ts';
import type { GatewayRequestEvent } from '../../core/events.ts';
import { openStoreFromConfig } from '../../store/open-from-config.ts';
import type { Store } from '../../store/types.ts';
import { createKvRepo } from '../../store/repos/kv-repo.ts';
import { startKvSweeper, type KvSweeper } from '../../store/repos/kv-sweeper.ts';
import { createEventBus } from '../../bus/create-event-bus.ts';
import type { EventBus } from '../../bus/types.ts';
import { createRateLimiter } from '../../ratelimit/create-rate-limiter.ts';
import type { RateLimiter } from '../../ratelimit/types.ts';
import { createEdgeRateLimitStage } from '../pipeline/edge-rate-limit.ts';
import { createRateLimitStage } from '../pipeline/rate-limit.ts';
import { pathRefusalOf } from '../router/normalize-path.ts';
import { refusedCredentialOf } from '../refused-credential.ts';
import type { GatewayExtension } from '../gateway.ts';

export interface Platform {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly bus: EventBus;
  readonly limiter: RateLimiter;
}

/** Opens store (and migrates it), bus and rate limiter; closes what it opened if a later one fails. */
export async function createPlatform(config: Config, logger: Logger): Promise<Platform> {
  const store = await openStoreFromConfig(config, logger);
  try {
    await store.migrate();
    const bus = await createEventBus(config.bus.url, {
      instanceId: config.instanceId!, logger: logger.child({ component: 'bus' }),
      stream: config.bus.stream, subjectPrefix: config.bus.subjectPrefix, maxAgeMs: config.bus.maxAgeMs, maxBuffer: config.bus.maxBuffer,
      maxBufferBytes: config.bus.maxBufferBytes, handlerTimeoutMs: config.bus.handlerTimeoutMs, maxEventBytes: config.bus.maxEventBytes,
    });
    try {
      const limiter = await createRateLimiter(config.ratelimit.url, {
        logger: logger.child({ component: 'ratelimit' }), keyPrefix: config.ratelimit.keyPrefix,
        timeoutMs: config.ratelimit.timeoutMs, failOpen: config.ratelimit.failOpen, maxKeys: config.ratelimit.maxKeys, fallbackInstances: config.ratelimit.fallbackInstances,
      });
      return { config, logger, store, bus, limiter };
    } catch (err) {
      await bus.close();
      throw err;
    }
  } catch (err) {
    await store.close();
    throw err;
  }
}

export function platformExtension(platform: Platform): GatewayExtension {
  const { store, bus, limiter, logger } = platform;
  let sweeper: KvSweeper | undefined;
  return {
    name: 'platform',
    async start(gateway) {
      // Expired OIDC records, sessions and the like are swept every five minutes.
      sweeper = startKvSweeper(createKvRepo(store.db), 300_000, logger);
      gateway.health.register('store', () => store.health());
      gateway.health.register('bus', () => bus.health());
      // With failOpen the instance serves without Redis, so Redis does not decide readiness:
      // every instance shares it, and an unready fleet is drained by the load balancer all at
      // once — the outage failOpen was chosen to avoid. It is still reported in /readyz.
      gateway.health.register('ratelimit', () => limiter.health(), { critical: !platform.config.ratelimit.failOpen });
      new Gauge({
        name: 'gatehouse_bus_events', help: 'Event bus counters since start: published, dropped (buffer full in events or bytes, too large, left at close), failed publishes, subscriber errors (handlerErrors; of them handlerTimeouts: not settled within bus.handlerTimeoutMs), malformed (refused as ERR_BUS_EVENT_INVALID), buffered now.',
        labelNames: ['kind'], registers: [gateway.metrics.registry],
        collect() {
          const s = bus.stats();
          for (const [kind, value] of Object.entries(s)) if (typeof value === 'number') this.labels(kind).set(value);
        },
      });
      if (limiter.stats !== undefined) {
        const stats = limiter.stats.bind(limiter);
        new Gauge({
          name: 'gatehouse_ratelimit_memory', help: 'In-memory rate limiter: keys held now, and evictions since start of keys still in debt (each forgave a limited client: raise ratelimit.maxKeys when it grows).',
          labelNames: ['kind'], registers: [gateway.metrics.registry],
          collect() {
            const s = stats();
            this.labels('keys').set(s.keys);
            this.labels('evictions').set(s.evictions);
          },
        });
      }
    },
    stages(config) {
      const deps = { limiter, bus, logger };
      return {
        edgeRateLimit: createEdgeRateLimitStage(config.ratelimit, deps),
        rateLimit: createRateLimitStage(config.ratelimit, deps),
      };
    },
    onRequest(ctx, status, durationMs) {
      // Nobody on the in-process bus takes it (detection off): not built at all.
      if (!bus.wants('gateway.request')) return;
      // Once per request: optional fields are added only when present (no undefined values for
      // the bus to strip), by assignment: spreading conditional objects cost ~40× as much.
      const event: GatewayRequestEvent = {
        requestId: ctx.requestId,
        traceId: ctx.trace?.traceId ?? '',
        method: ctx.method,
        path: ctx.path,
        status,
        durationMs,
        clientAddress: ctx.clientAddress,
        stage: ctx.stage,
        bytesIn: ctx.bytesIn,
        bytesOut: ctx.bytesOut,
      };
      if (ctx.route) event.routeId = ctx.route.id;
      if (ctx.identity) {
        event.subject = ctx.identity.subject;
        if (ctx.identity.issuer !== undefined) event.issuer = ctx.identity.issuer;
      }
      if (ctx.error) {
        event.errorCode = ctx.error.code;
        const refusal = pathRefusalOf(ctx.error);
        if (refusal !== undefined) {
          event.pathRefusal = refusal.reason;
          event.pathOffset = refusal.offset;
        }
        // A credential that was never issued: its digest lets detection count distinct guesses (credentialGuessing).
        const refused = refusedCredentialOf(ctx);
        if (refused !== undefined) event.refusedCredential = refused;
      }
      if (ctx.upstreamStatus) event.upstreamStatus = ctx.upstreamStatus;
      bus.publish('gateway.request', event);
    },
    onReload(outcome) {
      if (outcome.applied) bus.publish('config.reloaded', { generation: outcome.version, source: outcome.source, routes: outcome.routes, changedKeys: outcome.changedKeys });
      else bus.publish('config.rejected', { source: outcome.source, problems: outcome.problems.map((p) => ({ path: p.path.join('.'), message: p.message })) });
    },
    async stop() {
      await sweeper?.stop();
      await bus.close().catch((err: unknown) => logger.error({ err }, 'closing the bus failed'));
      await limiter.close().catch((err: unknown) => logger.error({ err }, 'closing the rate limiter failed'));
      await store.close().catch((err: unknown) => logger.error({ err }, 'closing the store failed'));
    },
  };
}
