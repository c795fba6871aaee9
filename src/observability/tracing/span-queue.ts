/**
 * A bounded queue of finished spans in front of an exporter: spans are sent in batches,
 * one export at a time, and nothing a request does ever waits for it. When the queue is
 * full, when an export fails or times out, or when shutdown runs out of time, spans are
 * dropped and reported through `onDrop` (a counter and a rate-limited warning), never
 * retried beyond what the exporter itself does.
 *
 * Written here rather than taken from the SDK's BatchSpanProcessor because that one only
 * counts queue overflows privately and reports failed exports to the global diag logger:
 * operators need both as a metric.
 */
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

type ExportResult = Parameters<SpanExporter['export']>[1] extends (result: infer R) => void ? R : never;

/** `ExportResultCode.SUCCESS` of @opentelemetry/core (a dependency of the exporter, not of Gatehouse). */
const SUCCESS = 0;
/** `ExportResultCode.FAILED`. */
const FAILED = 1;

export type DropReason = 'queue_full' | 'export_failed' | 'shutdown';

export interface SpanQueueOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMs: number;
  /** Longest one export may take before its spans count as dropped (a backstop: a late answer is ignored). */
  exportTimeoutMs: number;
  onExported(count: number): void;
  onDrop(count: number, reason: DropReason, error: Error | undefined): void;
}

export class SpanQueue {
  readonly #exporter: SpanExporter;
  readonly #options: SpanQueueOptions;
  #queue: ReadableSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The export in flight: at most one, so memory stays bounded by the queue plus one batch. */
  #inFlight: Promise<void> | undefined;
  #closed = false;

  constructor(exporter: SpanExporter, options: SpanQueueOptions) {
    this.#exporter = exporter;
    this.#options = options;
  }

  /** Spans waiting (not counting the batch being exported). */
  get size(): number { return this.#queue.length; }

  /** Queues a finished span; O(1), no I/O. */
  add(span: ReadableSpan): void {
    if (this.#closed) { this.#options.onDrop(1, 'shutdown', undefined); return; }
    if (this.#queue.length >= this.#options.maxQueueSize) { this.#options.onDrop(1, 'queue_full', undefined); return; }
    this.#queue.push(span);
    if (this.#queue.length >= this.#options.maxExportBatchSize) {
      // A full batch goes out soon, but not on the request's own call stack: the JSON
      // serialization of a batch is the exporter's cost, not the request's.
      if (this.#inFlight === undefined) this.#schedule(0);
    } else if (this.#timer === undefined) {
      this.#schedule(this.#options.scheduledDelayMs);
    }
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#drain(); }, delayMs);
    // A pending export never keeps the process alive; shutdown flushes explicitly.
    this.#timer.unref();
  }

  /** Sends batches until the queue is empty or an export is in flight. */
  #drain(): void {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return;
    const batch = this.#queue.length <= this.#options.maxExportBatchSize ? this.#queue : this.#queue.slice(0, this.#options.maxExportBatchSize);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(batch.length);
    this.#inFlight = this.#export(batch).finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length >= this.#options.maxExportBatchSize || (this.#closed && this.#queue.length > 0)) this.#drain();
      else if (this.#queue.length > 0 && this.#timer === undefined) this.#schedule(this.#options.scheduledDelayMs);
    });
  }

  #export(batch: ReadableSpan[]): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = (result: ExportResult | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result?.code === SUCCESS) this.#options.onExported(batch.length);
        else this.#options.onDrop(batch.length, 'export_failed', result ? result.error : new Error(`export timed out after ${this.#options.exportTimeoutMs} ms`));
        resolve();
      };
      const timer = setTimeout(() => settle(undefined), this.#options.exportTimeoutMs);
      timer.unref();
      try {
        this.#exporter.export(batch, settle);
      } catch (err) {
        settle({ code: FAILED, error: err as Error });
      }
    });
  }

  /**
   * Stops taking spans, sends what is queued for up to `timeoutMs`, then shuts the exporter
   * down. Spans still queued at the deadline are dropped ('shutdown'). Never rejects.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => { deadline = setTimeout(resolve, timeoutMs); });
    const flushed = (async () => {
      this.#drain();
      while (this.#inFlight !== undefined) await this.#inFlight;
    })();
    await Promise.race([flushed, expired]);
    clearTimeout(deadline);
    const left = this.#queue.length;
    this.#queue = [];
    if (left > 0) this.#options.onDrop(left, 'shutdown', undefined);
    await Promise.race([this.#exporter.shutdown().catch(() => undefined), new Promise((r) => setTimeout(r, Math.min(timeoutMs, 1000)).unref())]);
  }
}
