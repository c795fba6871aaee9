/**
 * A generation is everything compiled from one configuration: router, upstream pools,
 * trusted-proxy matcher, IP rules, stage list. A request takes the current generation when it is
 * accepted and keeps it to the end, so a reload never changes a request mid-flight;
 * swapping generations is one assignment.
 */
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import type { RequestContext, Stage } from './context.ts';
import type { Router } from './router/router.ts';
import type { UpstreamPools } from './upstream/pools.ts';
import type { RequestMetrics } from './request-metrics.ts';
import type { InternalHandler } from './internal-handler.ts';
import type { GatewayExtension, StageSlot } from './gateway.ts';
import { compileRouter } from './router/router.ts';
import { compileTrustedProxies } from './http/trusted-proxies.ts';
import { compileIpRules, type IpRules } from './http/ip-rules.ts';
import { buildPools, closeEntries, connectTimeoutsOf } from './upstream/pools.ts';
import type { TunnelRegistry } from './upstream/tunnels.ts';
import { hstsValue } from './http/strict-transport-security.ts';
import { defaultStages } from './pipeline/stages.ts';
import { resolveUpstreamCredentials, type UpstreamCredentials } from './upstream/credentials.ts';

export interface Generation {
  readonly version: number;
  readonly config: Config;
  readonly router: Router;
  readonly upstreams: UpstreamPools;
  /** Headers injected on requests to each upstream (`upstreams.<name>.credentials`), file-held values as read for this generation. */
  readonly credentials: UpstreamCredentials;
  readonly isTrustedProxy: (address: string) => boolean;
  /** The top-level `ipRules`, checked by the shield stage on every request; undefined when there are none. */
  readonly ipRules: IpRules | undefined;
  readonly stages: readonly Stage[];
  /** The stages' names, in the same order (for ctx.stage, without a Function#name read per request). */
  readonly stageNames: readonly string[];
  readonly metrics: RequestMetrics;
  readonly logger: Logger;
  /** The gateway's open WebSocket tunnels (one registry for every generation). */
  readonly tunnels: TunnelRegistry;
  /** Gatehouse's own endpoints (IdP, auth callback, JWKS), matched by path prefix before routes. */
  readonly internal: readonly InternalHandler[];
  /**
   * Records a request (access log, metrics, access event) exactly once. Called just before
   * the last bytes of a response are written, so that an event exists for every answer a
   * client received even if the process dies right after; the response's 'close' event
   * records whatever ended otherwise (client gone, internal handlers).
   */
  readonly record: (ctx: RequestContext) => void;
  /** Strict-Transport-Security value for HTTPS responses (http/strict-transport-security.ts), or undefined when off. */
  readonly hsts: string | undefined;
  /** Fraction of new traces sampled, fixed when span export starts (0 without it: see accept). */
  readonly traceSampleRatio: number;
  /**
   * Whose incoming sampled flag decides (`tracing.clientSampledFlag`); `follow` without span
   * export, where Gatehouse only passes the trace context on.
   */
  readonly traceClientSampledFlag: 'follow' | 'trustedProxies' | 'ignore';
}

/**
 * Compiles a configuration into a generation: router, trusted-proxy matcher, the stage list
 * with the slots the extensions fill, internal handlers, and upstream pools (unchanged ones
 * carried over from `previous`). Throws on any problem and changes nothing.
 */
export function buildGeneration(
  config: Config,
  version: number,
  previous: Generation | undefined,
  extensions: readonly GatewayExtension[],
  shared: Pick<Generation, 'metrics' | 'logger' | 'record' | 'traceSampleRatio' | 'traceClientSampledFlag' | 'tunnels'>,
): Generation {
  // First: a credential file that cannot be used refuses the configuration before any pool is built.
  const credentials = resolveUpstreamCredentials(config);
  const router = compileRouter(config.routes, config.upstreams, { maxBodyBytes: config.limits.maxBodyBytes });
  const isTrustedProxy = compileTrustedProxies(config.trustedProxies);
  const ipRules = compileIpRules(config.ipRules);
  const slots: Partial<Record<StageSlot, Stage>> = {};
  for (const ext of extensions) Object.assign(slots, ext.stages?.(config));
  const internal = extensions.flatMap((e) => e.internalHandlers?.() ?? []);
  const workload = extensions.map((e) => e.workloadTls?.()).find((w) => w !== undefined);
  const { pools, retired } = buildPools(config.upstreams, previous?.upstreams, workload, connectTimeoutsOf(config.routes));
  // Pools that the new generation does not use are closed once their requests finish.
  if (retired.length) setImmediate(() => { void closeEntries(retired); });
  const stages = defaultStages(slots);
  return { version, config, router, upstreams: pools, credentials, isTrustedProxy, ipRules, stages, stageNames: stages.map((s) => s.name), internal, hsts: hstsValue(config), ...shared };
}
