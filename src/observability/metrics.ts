/**
 * Prometheus metrics (prom-client). One registry per Gatehouse instance so that tests
 * running several gateways in one process don't mix their counts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  errors: Counter<'route' | 'code'>;
  duration: Histogram<'route' | 'status'>;
  upstreamDuration: Histogram<'upstream'>;
  upstreamErrors: Counter<'upstream' | 'code'>;
  upstreamHealthy: Gauge<'upstream'>;
  inflight: Gauge;
  configReloads: Counter<'outcome'>;
  tracingSpansExported: Counter;
  tracingSpansDropped: Counter<'reason'>;
  tlsCertificateNotAfter: Gauge;
}

/**
 * @param options.inflight reads the number of requests in flight when the registry is
 *   scraped: the gateway counts them anyway, and a gauge inc/dec per request costs two
 *   prom-client label-set hashes for a figure only a scrape looks at.
 */
export function createMetrics(options: { defaultMetrics?: boolean; inflight?: () => number } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  // Buckets in seconds, dense below 50 ms where a gateway should live.
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  const inflight = options.inflight;
  return {
    registry,
    requests: new Counter({ name: 'gatehouse_http_requests_total', help: 'Requests by route, method and response status.', labelNames: ['route', 'method', 'status'], registers: [registry] }),
    errors: new Counter({ name: 'gatehouse_http_errors_total', help: 'Requests that ended in a Gatehouse error, by route and error code.', labelNames: ['route', 'code'], registers: [registry] }),
    duration: new Histogram({ name: 'gatehouse_http_request_duration_seconds', help: 'Time from accept to the end of the response, by route and status.', labelNames: ['route', 'status'], buckets, registers: [registry] }),
    upstreamDuration: new Histogram({ name: 'gatehouse_upstream_response_duration_seconds', help: 'Time to the upstream response headers.', labelNames: ['upstream'], buckets, registers: [registry] }),
    upstreamErrors: new Counter({ name: 'gatehouse_upstream_errors_total', help: 'Failed upstream exchanges by upstream and error code.', labelNames: ['upstream', 'code'], registers: [registry] }),
    upstreamHealthy: new Gauge({ name: 'gatehouse_upstream_healthy', help: '1 when the last exchange with the upstream succeeded (or none failed yet), 0 after a connection failure.', labelNames: ['upstream'], registers: [registry] }),
    inflight: new Gauge({
      name: 'gatehouse_http_requests_in_flight', help: 'Requests being processed.', registers: [registry],
      collect() { if (inflight) this.set(inflight()); },
    }),
    configReloads: new Counter({ name: 'gatehouse_config_reloads_total', help: 'Configuration reload attempts by outcome (applied, rejected).', labelNames: ['outcome'], registers: [registry] }),
    tracingSpansExported: new Counter({ name: 'gatehouse_tracing_spans_exported_total', help: 'Request spans the OTLP endpoint accepted.', registers: [registry] }),
    tracingSpansDropped: new Counter({ name: 'gatehouse_tracing_spans_dropped_total', help: 'Request spans not exported, by reason (queue_full, export_failed, shutdown).', labelNames: ['reason'], registers: [registry] }),
    tlsCertificateNotAfter: new Gauge({ name: 'gatehouse_tls_certificate_not_after_seconds', help: 'Expiry (Unix time) of the certificate the public HTTPS listener serves now; alert before it comes (e.g. gatehouse_tls_certificate_not_after_seconds - time() < 14 * 86400): a certificate renewed on disk is served at once, one that expires in place keeps being served.', registers: [registry] }),
  };
}
