/**
 * The /metrics text of a prom-client registry, rendered in slices that yield to the event loop.
 *
 * prom-client's `registry.metrics()` renders every family in one synchronous run once their
 * collect hooks resolve: per histogram bucket it builds a value object and a labels object,
 * then escapes and joins every label of every line again. With ~24,000 lines (200 routes × 6
 * statuses × 18 histogram lines, upstreams) that held the gateway's only event loop, and every
 * request in flight, for 75–300 ms per scrape, several times every 15 s. Here each series'
 * label text is escaped once and kept (keyed by prom-client's labels object, which lives as
 * long as the series), a histogram's lines are written straight from prom-client's state, and
 * the work yields to the event loop whenever it has run for `sliceMs`.
 *
 * The text is the same as prom-client's, byte for byte (a test compares them). A family this
 * module does not know (a Summary, a prom-client whose state is laid out differently), a
 * registry with default labels, or one set to OpenMetrics is rendered by prom-client.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

type Labels = Record<string, string | number>;
/** prom-client 15's state of one label set of a counter or gauge (`hashMap[hash]`). */
interface ValueEntry { labels: Labels; value: number }
/** prom-client 15's state of one label set of a histogram; bucket counts are per bucket, not cumulative. */
interface HistogramEntry { labels: Labels; bucketValues: Record<string, number>; sum: number; count: number }

/** `a="x",b="y"` of a labels object; prom-client keeps one object per series, so this is escaped once per series. */
const labelTexts = new WeakMap<object, string>();

function escapeLabelValue(value: string | number): string | number {
  return typeof value === 'string' ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

function labelText(labels: Labels): string {
  let text = labelTexts.get(labels);
  if (text === undefined) {
    text = '';
    for (const name in labels) text += `${text === '' ? '' : ','}${name}="${escapeLabelValue(labels[name]!)}"`;
    labelTexts.set(labels, text);
  }
  return text;
}

/** As prom-client writes a sample value. */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

function header(metric: { name: string; help: string; type: string }): string {
  const escape = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return `# HELP ${escape(metric.name)} ${escape(metric.help)}\n# TYPE ${escape(metric.name)} ${metric.type}`;
}

function stateOf(metric: Metric): Record<string, unknown> | undefined {
  const map = (metric as unknown as { hashMap?: unknown }).hashMap;
  return typeof map === 'object' && map !== null ? map as Record<string, unknown> : undefined;
}

function isValueEntry(entry: unknown): entry is ValueEntry {
  return typeof entry === 'object' && entry !== null && typeof (entry as ValueEntry).value === 'number' && typeof (entry as ValueEntry).labels === 'object' && (entry as ValueEntry).labels !== null;
}

function isHistogramEntry(entry: unknown, keys: readonly string[]): entry is HistogramEntry {
  if (typeof entry !== 'object' || entry === null) return false;
  const e = entry as HistogramEntry;
  if (typeof e.labels !== 'object' || e.labels === null || typeof e.bucketValues !== 'object' || e.bucketValues === null || typeof e.sum !== 'number' || typeof e.count !== 'number') return false;
  for (const key of keys) if (typeof e.bucketValues[key] !== 'number') return false;
  return true;
}

/**
 * The beginnings of a histogram series' lines up to the value (each bucket's, +Inf, _sum,
 * _count), built once per series: prom-client keeps one labels object per series.
 */
const histogramLines = new WeakMap<object, { name: string; bounds: readonly number[]; lines: string[] }>();

function seriesLines(name: string, bounds: readonly number[], labels: Labels): string[] {
  const cached = histogramLines.get(labels);
  if (cached !== undefined && cached.name === name && cached.bounds === bounds) return cached.lines;
  const own = labelText(labels);
  const rest = own === '' ? '' : `,${own}`;
  const lines = bounds.map((b) => `${name}_bucket{le="${valueText(b)}"${rest}} `);
  lines.push(`${name}_bucket{le="+Inf"${rest}} `, `${name}_sum${own === '' ? '' : `{${own}}`} `, `${name}_count${own === '' ? '' : `{${own}}`} `);
  histogramLines.set(labels, { name, bounds, lines });
  return lines;
}

/** Runs the metric's collect hook as prom-client's `get` does (the gateway's counted requests are handed over there). */
async function collect(metric: Metric): Promise<void> {
  const hook = (metric as unknown as { collect?: () => unknown }).collect;
  if (typeof hook !== 'function') return;
  const result = hook.call(metric);
  if (result instanceof Promise) await result;
}

/**
 * The text of `registry` as prom-client's `metrics()` renders it, in pieces (their
 * concatenation is the text), yielding to the event loop after each `sliceMs` of work: a
 * response can be written piece by piece, so that no single write encodes megabytes either.
 * Each series is read in one go, so its buckets, sum and count agree.
 */
export async function* metricsText(registry: Registry, options: { sliceMs?: number } = {}): AsyncGenerator<string> {
  const defaultLabels = (registry as unknown as { _defaultLabels?: object })._defaultLabels;
  if (registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE || (defaultLabels !== undefined && Object.keys(defaultLabels).length > 0)) {
    yield await registry.metrics();
    return;
  }
  const sliceMs = options.sliceMs ?? 4;
  let sliceStart = performance.now();
  /** Yields once this slice has run for `sliceMs`; checked every few series, not every line. */
  const maybeYield = async () => {
    if (performance.now() - sliceStart < sliceMs) return;
    await yieldToEventLoop();
    sliceStart = performance.now();
  };
  let separator = '';
  // Typed as descriptions (MetricObject), they are the registered metric objects themselves.
  for (const metric of registry.getMetricsAsArray() as unknown as Metric[]) {
    yield separator;
    separator = '\n\n';
    yield* familyText(registry, metric);
    await maybeYield();
  }
  yield '\n';

  /**
   * One family: HELP and TYPE, then its series 16 histograms or 256 values at a time, each
   * batch joined into one flat string (joining them all at the end flattened megabytes of
   * concatenated pieces in one stall).
   */
  async function* familyText(registry: Registry, metric: Metric): AsyncGenerator<string> {
    const bounds = (metric as unknown as { upperBounds?: unknown }).upperBounds;
    const histogram = metric instanceof Histogram;
    if (!(metric instanceof Counter || metric instanceof Gauge || histogram) || stateOf(metric) === undefined || (histogram && !Array.isArray(bounds))) {
      yield await prometheusText(registry, metric);
      return;
    }
    await collect(metric);
    // Read after collect: a hook (or a reset) may have replaced the state.
    const entries = Object.values(stateOf(metric) ?? {});
    const { name } = metric as unknown as { name: string };
    // prom-client files bucket counts under the bound as a string; converting a fraction to a string per line was most of the cost.
    const keys = histogram ? (bounds as number[]).map(String) : [];
    if (!entries.every(histogram ? (e) => isHistogramEntry(e, keys) : isValueEntry)) {
      yield await prometheusText(registry, metric);
      return;
    }
    yield header(metric as unknown as { name: string; help: string; type: string });
    const batch: string[] = [];
    const size = histogram ? 16 : 256;
    for (let i = 0; i < entries.length; i++) {
      batch.push(histogram ? histogramText(name, bounds as number[], keys, entries[i] as HistogramEntry) : valueEntryText(name, entries[i] as ValueEntry));
      if (batch.length === size || i === entries.length - 1) {
        yield `\n${batch.join('\n')}`;
        batch.length = 0;
        await maybeYield();
      }
    }
  }
}

/** The whole text of `registry` (see `metricsText`). */
export async function renderMetrics(registry: Registry, options: { sliceMs?: number } = {}): Promise<string> {
  const pieces: string[] = [];
  for await (const piece of metricsText(registry, options)) pieces.push(piece);
  return pieces.join('');
}

function histogramText(name: string, bounds: readonly number[], keys: readonly string[], entry: HistogramEntry): string {
  const lines = seriesLines(name, bounds, entry.labels);
  const values = entry.bucketValues;
  let acc = 0;
  let text = '';
  for (let b = 0; b < keys.length; b++) {
    acc += values[keys[b]!]!;
    text += `${lines[b]}${valueText(acc)}\n`;
  }
  const n = keys.length;
  return `${text}${lines[n]}${valueText(entry.count)}\n${lines[n + 1]}${valueText(entry.sum)}\n${lines[n + 2]}${valueText(entry.count)}`;
}

function valueEntryText(name: string, entry: ValueEntry): string {
  const labels = labelText(entry.labels);
  return `${name}${labels === '' ? '' : `{${labels}}`} ${valueText(entry.value)}`;
}

/**
 * prom-client's own text of a family whose collect hook already ran here: its state is not as
 * expected (another prom-client). Its hook runs again, which hands over nothing new.
 */
function prometheusText(registry: Registry, metric: Metric): Promise<string> {
  return registry.getSingleMetricAsString((metric as unknown as { name: string }).name);
}
