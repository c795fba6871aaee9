/**
 * Per-request metric updates, counted here and handed to prom-client when the registry is
 * read. prom-client hashes and validates the label set and looks the bucket up by its
 * bound as a string on every call, even through a cached labelled child (~0.6 µs per
 * counter inc, ~1.1 µs per histogram observe; three calls per request). Here a request
 * costs three Map probes and a few additions; the collect hooks add what accumulated
 * since the last read, so a scrape shows the same series with the same values.
 *
 * A histogram is fed by adding to prom-client's own per-label-set state, whose layout is
 * checked once at start (see `batchableHistograms`); with another layout (a prom-client
 * upgrade) every observation goes through prom-client's `observe` as before.
 */
import { STATUS_CODES } from 'node:http';
import { Histogram, type Counter } from 'prom-client';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { TrafficWindow } from '../observability/traffic-window.ts';

/**
 * The `status` label of a response status: its own for a status HTTP registers (and 499, the
 * access log's "client closed"), else its class (`5xx`). The status is the upstream's choice,
 * which can be the client's (an upstream reflecting an error code or a `/status/{code}`):
 * each of 900 statuses with its own series let one client multiply a route's series by 900.
 * Applied when a cell is created, so a request costs nothing more; requests with different
 * unregistered statuses keep their own cells but share the class's series.
 */
export function statusLabel(status: number): string {
  const text = String(status);
  if (status === 499 || Object.hasOwn(STATUS_CODES, text)) return text;
  return status >= 100 && status <= 999 ? `${text[0]}xx` : 'other';
}

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/** prom-client 15's state of one label set of a histogram (`hashMap[hash]`). */
interface HistogramEntry { labels: Record<string, string>; bucketValues: Record<string, number>; sum: number; count: number }

function entries(histogram: Histogram<string>): Record<string, HistogramEntry> | undefined {
  const map = (histogram as unknown as { hashMap?: unknown }).hashMap;
  return typeof map === 'object' && map !== null ? map as Record<string, HistogramEntry> : undefined;
}

/** The key prom-client 15 files `labels` under (`hashObject` with the sorted label names). */
function keyOf(labels: Record<string, string>): string {
  let key = '';
  for (const name of Object.keys(labels).sort()) key += `${name}:${labels[name]},`;
  return key;
}

function sameLabels(entry: HistogramEntry | undefined, labels: Record<string, string>): entry is HistogramEntry {
  if (entry === undefined) return false;
  for (const name in labels) if (entry.labels?.[name] !== labels[name]) return false;
  return true;
}

/**
 * The entry of `labels`, created through the public `zero` when it does not exist yet, found by
 * prom-client's own key only (`batchableHistograms` checks that prom-client files it there).
 * A scan of the state when the key did not hold it (scrape-cost) ran for every new series,
 * which is every series on the first scrape after they appear: with 1,200 new label sets the
 * scrape held the event loop, and every request, for 200–300 ms.
 */
function entryOf(histogram: Histogram<string>, labels: Record<string, string>): { key: string; entry: HistogramEntry } | undefined {
  const key = keyOf(labels);
  const find = (): { key: string; entry: HistogramEntry } | undefined => {
    const map = entries(histogram);
    const byKey = map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
    return sameLabels(byKey, labels) ? { key, entry: byKey } : undefined; // no scan (scrape-cost)
  };
  const found = find();
  if (found) return found;
  histogram.zero(labels);
  return find();
}

/** Whether this prom-client keeps histogram state as `entryOf` expects, under `keyOf`'s key (checked on a private, unregistered histogram; scrape-cost). */
function batchableHistograms(): boolean {
  try {
    const probe = new Histogram({ name: 'gatehouse_probe', help: 'layout probe', labelNames: ['l', 'a'], buckets: [1, 2], registers: [] });
    probe.observe({ l: 'x', a: 'y' }, 1.5);
    const entry = entryOf(probe, { l: 'x', a: 'y' })?.entry;
    // Two labels: the key sorts them (scrape-cost: `entryOf` looks by key only).
    return entry !== undefined && entries(probe)?.[keyOf({ l: 'x', a: 'y' })] === entry && entry.count === 1 && entry.sum === 1.5 && entry.bucketValues['1'] === 0 && entry.bucketValues['2'] === 1;
  } catch {
    return false;
  }
}

/** prom-client's bucket keys of a histogram's bounds, shared by its cells (scrape-cost). */
const boundKeys = new WeakMap<readonly number[], readonly string[]>();
function keysOf(bounds: readonly number[]): readonly string[] {
  let keys = boundKeys.get(bounds);
  if (keys === undefined) boundKeys.set(bounds, keys = bounds.map(String));
  return keys;
}

/** Observations of one label set since the last read. */
class HistogramCell {
  readonly labels: Record<string, string>;
  readonly bounds: readonly number[];
  /** The bounds as prom-client's keys (scrape-cost: a fraction's string, made per bucket per flush, was most of a flush). */
  readonly keys: readonly string[];
  /** Per bound: observations ≤ that bound and > the previous one (prom-client's non-cumulative buckets). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** Direct mode only. */
  readonly child: HistogramChild | undefined;
  /** prom-client's entry of these labels when last flushed and its key, checked before use (a reset or remove drops it). */
  #entry: { key: string; entry: HistogramEntry } | undefined;

  constructor(histogram: Histogram<string>, labels: Record<string, string>, batched: boolean) {
    this.labels = labels;
    this.bounds = (histogram as unknown as { upperBounds: number[] }).upperBounds ?? [];
    this.counts = new Float64Array(this.bounds.length);
    this.keys = keysOf(this.bounds); // once per cell, not per flush (scrape-cost)
    this.child = batched ? undefined : histogram.labels(labels);
  }

  observe(value: number): void {
    if (this.child) { this.child.observe(value); return; }
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  flush(histogram: Histogram<string>): void {
    if (this.count === 0) return;
    const cached = this.#entry;
    let entry = cached !== undefined && entries(histogram)?.[cached.key] === cached.entry ? cached.entry : undefined;
    if (entry === undefined) {
      this.#entry = entryOf(histogram, this.labels);
      if (this.#entry === undefined) return;
      entry = this.#entry.entry;
    }
    for (let i = 0; i < this.bounds.length; i++) {
      if (this.counts[i]) entry.bucketValues[this.keys[i]!]! += this.counts[i]!; // scrape-cost: a precomputed key
    }
    entry.sum += this.sum;
    entry.count += this.count;
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** Requests of one route, method and status since the last read, and their duration histogram. */
interface RequestCell { child: CounterChild; pending: number; duration: HistogramCell }

/** Runs `flush` before the metric's values are read, after any collect hook it already had. */
function beforeRead(metric: Counter<string> | Histogram<string>, flush: () => void): void {
  const target = metric as unknown as { collect?: () => void | Promise<void> };
  const previous = target.collect;
  target.collect = function collect(this: unknown) {
    flush();
    return previous?.call(this);
  };
}

export class RequestMetrics {
  readonly metrics: GatewayMetrics;
  readonly #batched: boolean;
  /** route → method → status → cell. */
  readonly #requests = new Map<string, Map<string, Map<number, RequestCell>>>();
  /** The same cells in creation order: series appear in the order prom-client would list them. */
  readonly #requestCells: RequestCell[] = [];
  /** `route status` → duration cell (shared by the methods of a route and status). */
  readonly #durations = new Map<string, HistogramCell>();
  readonly #upstream = new Map<string, HistogramCell>();
  /** Upstreams whose `gatehouse_upstream_healthy` is 1. */
  readonly #healthy = new Set<string>();
  /** Upstreams whose health gauge has a series (healthy or not). */
  readonly #reported = new Set<string>();
  /** The current configuration's upstreams; undefined until told (every name counts). */
  #upstreams: ReadonlySet<string> | undefined;
  /** The last minute, for /readyz. */
  readonly traffic = new TrafficWindow();

  constructor(metrics: GatewayMetrics) {
    this.metrics = metrics;
    this.#batched = batchableHistograms();
    beforeRead(metrics.requests, () => {
      for (const cell of this.#requestCells) if (cell.pending) { cell.child.inc(cell.pending); cell.pending = 0; }
    });
    beforeRead(metrics.duration, () => { for (const cell of this.#durations.values()) cell.flush(metrics.duration); });
    beforeRead(metrics.upstreamDuration, () => { for (const cell of this.#upstream.values()) cell.flush(metrics.upstreamDuration); });
  }

  request(route: string, method: string, status: number, seconds: number): void {
    let byMethod = this.#requests.get(route);
    if (!byMethod) this.#requests.set(route, byMethod = new Map());
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, byStatus = new Map());
    let cell = byStatus.get(status);
    if (!cell) {
      byStatus.set(status, cell = this.#requestCell(route, method, status));
      this.#requestCells.push(cell);
    }
    cell.pending++;
    cell.duration.observe(seconds);
    this.traffic.record(status, seconds * 1000, Date.now());
  }

  #requestCell(route: string, method: string, status: number): RequestCell {
    const key = `${route} ${status}`;
    let duration = this.#durations.get(key);
    const label = statusLabel(status);
    if (!duration) this.#durations.set(key, duration = new HistogramCell(this.metrics.duration, { route, status: label }, this.#batched));
    return { child: this.metrics.requests.labels(route, method, label), pending: 0, duration };
  }

  error(route: string, code: string): void {
    this.metrics.errors.labels(route, code).inc();
  }

  observeUpstream(upstream: string, ms: number): void {
    let cell = this.#upstream.get(upstream);
    if (!cell) {
      cell = new HistogramCell(this.metrics.upstreamDuration, { upstream }, this.#batched);
      this.#upstream.set(upstream, cell);
    }
    // Set on the first answer and on the first after a failure: a gauge left at 0 once the
    // upstream answers again would keep an alert on it firing for good.
    if (!this.#healthy.has(upstream) && this.#configured(upstream)) {
      this.#healthy.add(upstream);
      this.metrics.upstreamHealthy.labels(upstream).set(1);
    }
    cell.observe(ms / 1000);
  }

  upstreamFailed(upstream: string, code: string): void {
    this.metrics.upstreamErrors.labels(upstream, code).inc();
    if (code === 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE' && this.#configured(upstream)) {
      this.#healthy.delete(upstream);
      this.metrics.upstreamHealthy.labels(upstream).set(0);
    }
  }

  /**
   * The upstreams the current configuration has (called at start and after each applied
   * reload). An upstream a reload removed loses its health series: left at 0 (it was down
   * when removed), an alert on it would fire for good about an upstream that no longer
   * exists. A request of the previous generation still under way does not bring it back.
   * Its counters and latencies stay (history, like any counter until restart).
   */
  keepUpstreams(names: Iterable<string>): void {
    this.#upstreams = new Set(names);
    for (const name of [...this.#healthy, ...this.#reported]) {
      if (this.#upstreams.has(name)) continue;
      this.#healthy.delete(name);
      this.#reported.delete(name);
      this.metrics.upstreamHealthy.remove(name);
    }
  }

  #configured(upstream: string): boolean {
    if (this.#upstreams !== undefined && !this.#upstreams.has(upstream)) return false;
    this.#reported.add(upstream);
    return true;
  }
}
