/**
 * Per-request metric updates with the label children cached: prom-client hashes the
 * label object on every call otherwise, which shows up at tens of thousands of req/s.
 */
import type { Counter, Histogram } from 'prom-client';
import type { GatewayMetrics } from '../observability/metrics.ts';

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

export class RequestMetrics {
  readonly metrics: GatewayMetrics;
  readonly #requests = new Map<string, CounterChild>();
  readonly #durations = new Map<string, HistogramChild>();
  readonly #upstream = new Map<string, HistogramChild>();

  constructor(metrics: GatewayMetrics) { this.metrics = metrics; }

  request(route: string, method: string, status: number, seconds: number): void {
    const key = `${route}\0${method}\0${status}`;
    let counter = this.#requests.get(key);
    if (!counter) { counter = this.metrics.requests.labels(route, method, String(status)); this.#requests.set(key, counter); }
    counter.inc();
    const dkey = `${route}\0${status}`;
    let hist = this.#durations.get(dkey);
    if (!hist) { hist = this.metrics.duration.labels(route, String(status)); this.#durations.set(dkey, hist); }
    hist.observe(seconds);
  }

  error(route: string, code: string): void {
    this.metrics.errors.labels(route, code).inc();
  }

  observeUpstream(upstream: string, ms: number): void {
    let hist = this.#upstream.get(upstream);
    if (!hist) {
      hist = this.metrics.upstreamDuration.labels(upstream);
      this.#upstream.set(upstream, hist);
      this.metrics.upstreamHealthy.labels(upstream).set(1);
    }
    hist.observe(ms / 1000);
  }

  upstreamFailed(upstream: string, code: string): void {
    this.metrics.upstreamErrors.labels(upstream, code).inc();
    if (code === 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE') this.metrics.upstreamHealthy.labels(upstream).set(0);
  }
}
