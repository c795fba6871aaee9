/**
 * Span export for the gateway (config `tracing`): turns each recorded, sampled request into
 * a SERVER span (request-span.ts) and hands it to a bounded queue that an OTLP/HTTP JSON
 * exporter drains (span-queue.ts). Built once at start; without `tracing.enabled` nothing
 * is built and requests do no tracing work at all.
 *
 * Export never blocks or fails a request: a full queue or a failed export drops spans,
 * counted in `gatehouse_tracing_spans_dropped_total` and told in a warning at most once a
 * minute. The endpoint's userinfo and the configured header values are secrets: they are
 * cut out of anything logged here, and the endpoint is logged by origin and path only.
 */
import type { Logger } from 'pino';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../../core/config/tracing-schema.ts';
import type { RequestContext } from '../../gateway/context.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { VERSION } from '../../core/version.ts';
import { REDACTED } from '../../audit/redact.ts';
import { buildRequestSpan } from './request-span.ts';
import { SpanQueue, type DropReason } from './span-queue.ts';

/** At most one drop warning per this many milliseconds (the counter has every drop). */
export const DROP_WARNING_INTERVAL_MS = 60_000;

/** Longest piece of an export error put in a log line (collectors answer with bodies). */
const MAX_ERROR_LENGTH = 300;

export interface RequestTracer {
  /** Fraction of new traces sampled (accept uses it through the generation). */
  readonly sampleRatio: number;
  /** Whose incoming sampled flag is followed (accept uses it through the generation). */
  readonly clientSampledFlag: 'follow' | 'trustedProxies' | 'ignore';
  /** Records a finished request's span if its trace is sampled (an access event sink). */
  readonly record: (ctx: RequestContext, status: number, durationMs: number) => void;
  /** Sends what is queued (up to `tracing.shutdownTimeoutMs`) and stops. Never rejects. */
  shutdown(): Promise<void>;
}

export interface RequestTracerDeps {
  logger: Logger;
  metrics: Pick<GatewayMetrics, 'tracingSpansExported' | 'tracingSpansDropped'>;
  instanceId: string;
}

/** The endpoint as it may be logged: origin and path, no userinfo. */
export function loggableEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Cuts every secret of the configuration out of `text` (an exporter's error message). */
function scrubber(config: TracingConfig): (text: string) => string {
  const url = new URL(config.endpoint);
  const decode = (s: string): string => { try { return decodeURIComponent(s); } catch { return s; } };
  const secrets = [url.username, url.password, decode(url.username), decode(url.password), ...Object.values(config.headers)]
    .filter((s) => s.length > 0)
    // Longest first, so that a secret containing another is cut whole.
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
    for (const secret of secrets) out = out.split(secret).join(REDACTED);
    return out;
  };
}

/** The tracer for `config`, or undefined when span export is off. */
export function createRequestTracer(config: TracingConfig, deps: RequestTracerDeps): RequestTracer | undefined {
  if (!config.enabled) return undefined;
  const { logger, metrics } = deps;
  const scrub = scrubber(config);
  const endpoint = loggableEndpoint(config.endpoint);
  const exporter = new OTLPTraceExporter({
    // Userinfo stays in the URL: Node's http client sends it as Basic authentication.
    url: config.endpoint,
    headers: { ...config.headers },
    timeoutMillis: config.exportTimeoutMs,
    // The queue runs one export at a time; the exporter's own limit is never the one hit.
    concurrencyLimit: 2,
  });
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: config.serviceName,
    [ATTR_SERVICE_VERSION]: VERSION,
    'service.instance.id': deps.instanceId,
  });
  const scope = { name: 'gatehouse', version: VERSION };

  const droppedSinceWarning: Record<DropReason, number> = { queue_full: 0, export_failed: 0, shutdown: 0 };
  let lastWarning = -Infinity;
  let lastError: string | undefined;
  const queue = new SpanQueue(exporter, {
    maxQueueSize: config.maxQueueSize,
    maxExportBatchSize: config.maxExportBatchSize,
    scheduledDelayMs: config.scheduledDelayMs,
    // A backstop behind the exporter's own timeout, which reports a better error.
    exportTimeoutMs: config.exportTimeoutMs + 1000,
    onExported: (count) => metrics.tracingSpansExported.inc(count),
    onDrop: (count, reason, error) => {
      metrics.tracingSpansDropped.labels(reason).inc(count);
      droppedSinceWarning[reason] += count;
      if (error) lastError = scrub(error.message || String(error));
      const now = performance.now();
      if (now - lastWarning < DROP_WARNING_INTERVAL_MS) return;
      lastWarning = now;
      logger.warn({ type: 'tracing', endpoint, dropped: { ...droppedSinceWarning }, error: lastError }, 'request spans dropped (not exported); requests are not affected');
      droppedSinceWarning.queue_full = droppedSinceWarning.export_failed = droppedSinceWarning.shutdown = 0;
      lastError = undefined;
    },
  });
  logger.info({ type: 'tracing', endpoint, serviceName: config.serviceName, sampleRatio: config.sampleRatio }, 'exporting request spans (OTLP/HTTP)');

  return {
    sampleRatio: config.sampleRatio,
    clientSampledFlag: config.clientSampledFlag,
    record: (ctx, status, durationMs) => {
      const span = buildRequestSpan(ctx, status, durationMs, resource, scope);
      if (span !== undefined) queue.add(span);
    },
    shutdown: () => queue.shutdown(config.shutdownTimeoutMs),
  };
}
