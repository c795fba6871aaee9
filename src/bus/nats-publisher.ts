/**
 * The NATS side of `publish`: a bounded buffer drained into JetStream with a limited number
 * of publishes awaiting their acknowledgement. Nothing here throws at the caller.
 *
 * - Each event's envelope id is its JetStream `msgID`, so a retry after a lost ack is
 *   recognised by the stream's duplicate window instead of being stored twice.
 * - A failed publish is retried with capped exponential backoff while it stays in the
 *   buffer; new publishes wait during the backoff (NATS is likely down). A retry can put
 *   an event behind ones published after it (documented in docs/events.md).
 * - When the buffer is full (maxBuffer events or maxBufferBytes of JSON), new events are
 *   dropped, counted and logged (buffer-budget.ts).
 * - An event NATS can never take (over the server's max_payload or the stream's message
 *   size limit) is dropped and counted at once: retried, it kept flush() from ever settling
 *   and held every later event behind its backoff.
 */
import type { Logger } from 'pino';
import { JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { InvalidArgumentError } from '@nats-io/transport-node';
import { Fifo } from './fifo.ts';
import { IdleTracker } from './idle-tracker.ts';
import { fits, OverflowLog } from './buffer-budget.ts';

interface Outgoing {
  seq: number;
  subject: string;
  data: string;
  id: string;
  /** UTF-8 length of `data`: what it holds of the byte budget until settled. */
  bytes: number;
}

export interface NatsPublisherOptions {
  maxBuffer: number;
  /** Most bytes of JSON buffered or awaiting an ack. */
  maxBufferBytes: number;
  maxInFlight?: number;
  ackTimeoutMs?: number;
  logger?: Logger | undefined;
  /** Called on each failed attempt that will be retried: the stream may be gone (the bus makes it again). */
  onRetryableFailure?: () => void;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
const FAILURE_LOG_INTERVAL_MS = 10_000;
/** JetStream's "message size exceeds maximum allowed" (the stream's max_msg_size). */
const JS_MESSAGE_TOO_LARGE = 10054;

/** Refusals that no retry can change: the client's max_payload check, the stream's size limit. */
function isPermanent(error: unknown): boolean {
  return error instanceof InvalidArgumentError || (error instanceof JetStreamApiError && error.code === JS_MESSAGE_TOO_LARGE);
}

export class NatsPublisher {
  readonly #js: JetStreamClient;
  readonly #maxBuffer: number;
  readonly #maxBufferBytes: number;
  readonly #overflow: OverflowLog;
  readonly #maxInFlight: number;
  readonly #ackTimeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #onRetryableFailure: () => void;
  readonly #queue = new Fifo<Outgoing>();
  readonly #idle = new IdleTracker();
  #failed: Outgoing[] = [];
  #inFlight = 0;
  #bytes = 0;
  #seq = 0;
  #holds = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #backoffMs = MIN_BACKOFF_MS;
  #lastFailureLog = 0;
  #unloggedFailures = 0;
  #closed = false;
  /** Since when publishes fail and are retried (undefined once one succeeds again), and the last error: for health(). */
  #failing: { since: number; error: string } | undefined;
  published = 0;
  dropped = 0;
  failures = 0;

  constructor(js: JetStreamClient, options: NatsPublisherOptions) {
    this.#js = js;
    this.#maxBuffer = options.maxBuffer;
    this.#maxBufferBytes = options.maxBufferBytes;
    this.#overflow = new OverflowLog(options.logger, 'publish');
    this.#maxInFlight = options.maxInFlight ?? 512;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.#logger = options.logger;
    this.#onRetryableFailure = options.onRetryableFailure ?? (() => {});
  }

  get buffered(): number {
    return this.#idle.pending;
  }

  /**
   * Set while publishes fail and are retried: the server may well answer (health's round trip
   * and stream info succeed) while JetStream refuses every event (a full stream that discards
   * new messages, no space), and health reported ok while the buffer filled and dropped.
   */
  get failing(): { since: number; error: string } | undefined {
    return this.#failing;
  }

  /** Bytes of JSON buffered or awaiting an ack. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Buffers one event (`bytes`: the UTF-8 length of `data`); false when it had to be dropped. */
  enqueue(subject: string, data: string, id: string, bytes: number): boolean {
    if (this.#closed) {
      this.dropped += 1;
      return false;
    }
    if (!fits(this.#idle.pending, this.#bytes, bytes, this.#maxBuffer, this.#maxBufferBytes)) {
      this.dropped += 1;
      this.#overflow.dropped({ buffered: this.#idle.pending, bufferedBytes: this.#bytes, maxBuffer: this.#maxBuffer, maxBufferBytes: this.#maxBufferBytes });
      return false;
    }
    this.#seq += 1;
    this.#queue.push({ seq: this.#seq, subject, data, id, bytes });
    this.#bytes += bytes;
    this.#idle.add(1);
    this.#pump();
    return true;
  }

  /**
   * Holds publication until `until` settles. Used while a durable consumer is being
   * created, so that events published after subscribe() returned are not published before
   * the consumer exists (it delivers only events newer than itself).
   */
  hold(until: Promise<unknown>): void {
    this.#holds += 1;
    void until.finally(() => {
      this.#holds -= 1;
      this.#pump();
    });
  }

  /** Resolves when nothing is buffered or awaiting an ack. */
  waitIdle(timeoutMs: number): Promise<void> {
    return this.#idle.waitUntilAtMost(0, timeoutMs);
  }

  /** Waits up to `timeoutMs` for the buffer to drain; whatever is left is dropped and counted. */
  async close(timeoutMs: number): Promise<void> {
    try {
      await this.waitIdle(timeoutMs);
    } catch {
      const left = this.#idle.pending;
      this.dropped += left;
      this.#logger?.error({ dropped: left }, 'event bus: events not published before close');
    }
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#queue.drain();
    this.#failed = [];
    this.#bytes = 0;
  }

  #pump(): void {
    if (this.#closed || this.#holds > 0 || this.#retryTimer !== undefined) return;
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      this.#send(this.#queue.shift() as Outgoing);
    }
  }

  #send(item: Outgoing): void {
    this.#inFlight += 1;
    this.#js.publish(item.subject, item.data, { msgID: item.id, timeout: this.#ackTimeoutMs }).then(
      () => {
        this.#inFlight -= 1;
        this.published += 1;
        this.#backoffMs = MIN_BACKOFF_MS;
        if (this.#failed.length === 0) this.#failing = undefined;
        this.#bytes -= item.bytes;
        this.#idle.done(1);
        this.#pump();
      },
      (error: unknown) => {
        this.#inFlight -= 1;
        if (isPermanent(error)) {
          this.dropped += 1;
          this.#bytes -= item.bytes;
          this.#idle.done(1);
          this.#logger?.error({ err: error, subject: item.subject, bytes: item.bytes }, 'event bus: event refused by NATS; dropped');
          this.#pump();
          return;
        }
        this.failures += 1;
        this.#failed.push(item);
        this.#failing = { since: this.#failing?.since ?? Date.now(), error: error instanceof Error ? error.message : String(error) };
        this.#logFailure(error);
        this.#onRetryableFailure();
        this.#scheduleRetry();
      },
    );
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const retry = this.#failed.sort((a, b) => a.seq - b.seq);
      this.#failed = [];
      this.#queue.unshiftAll(retry);
      this.#pump();
    }, delay);
    this.#retryTimer.unref();
  }

  #logFailure(error: unknown): void {
    const now = Date.now();
    if (now - this.#lastFailureLog < FAILURE_LOG_INTERVAL_MS) {
      this.#unloggedFailures += 1;
      return;
    }
    this.#logger?.warn({ err: error, buffered: this.#idle.pending, suppressed: this.#unloggedFailures }, 'event bus: JetStream publish failed; retrying');
    this.#lastFailureLog = now;
    this.#unloggedFailures = 0;
  }
}
