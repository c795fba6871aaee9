/**
 * The NATS JetStream event bus (`nats://host:port`). Events are stored in one stream over
 * `<prefix>.>` subjects (`gatehouse.gateway.request`, …).
 *
 * - Live subscriptions (no durable name) are plain NATS subscriptions: cheap, ordered,
 *   re-established by the client after a reconnect, and see only events published while
 *   they exist.
 * - Durable subscriptions are JetStream durable pull consumers, one per durable name and
 *   event filter (see nats-durable.ts, nats-consumer.ts). The server removes one nobody has
 *   pulled from for the stream's max age: by then the events it was kept for are gone too.
 * - The client reconnects forever; status changes are logged and shown by `health()`.
 * - A stream lost while running (NATS restarted without persistent storage, deleted by
 *   hand) is made again a second after a publish or a durable consumer fails: otherwise every
 *   publish was retried for ever and the instance stayed unhealthy until restarted. The
 *   delay lets the server finish removing a deleted stream's files first (a stream made
 *   again at once could be left unable to store anything).
 */
import type { Logger } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { GatehouseError } from '../core/errors.ts';
import { isEventName, type EventName, type GatehouseEvents } from '../core/events.ts';
import { createEnvelope, instanceId, nameFilter, parseEnvelope, type ParsedEnvelope } from './envelope.ts';
import { durableGroupName } from './durable-name.ts';
import { NatsDurableSubscription } from './nats-durable.ts';
import { NatsPublisher } from './nats-publisher.ts';
import { SubscriberQueue } from './subscriber-queue.ts';
import { handlerTimeout, isHandlerTimeout } from './handler-timeout.ts';
import { maxEventBytes, serializedOver } from './event-size.ts';
import { maxBufferBytes, OverflowLog } from './buffer-budget.ts';
import { IdleTracker } from './idle-tracker.ts';
import type { BusHealth, BusStats, EventBus, EventBusOptions, EventHandler, SubscribeOptions } from './types.ts';
import { checkPayload } from './payload-schema.ts';
import { snapshot } from './snapshot.ts';

const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
const HEALTH_TIMEOUT_MS = 2_000;
const RESTORE_DELAY_MS = 1_000;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

interface LiveSubscription {
  subs: Subscription[];
  queue: SubscriberQueue;
}

/** Connects, makes sure the stream exists and returns the bus. Throws ERR_BUS_UNAVAILABLE when NATS or JetStream cannot be reached. */
export async function createNatsEventBus(url: string, options: EventBusOptions): Promise<NatsEventBus> {
  const stream = options.stream ?? 'GATEHOUSE';
  const prefix = options.subjectPrefix ?? 'gatehouse';
  if (!NAME.test(stream)) throw new TypeError(`stream name ${JSON.stringify(stream)} must be letters, digits, '-' or '_'`);
  if (!PREFIX.test(prefix)) throw new TypeError(`subject prefix ${JSON.stringify(prefix)} must be dot-separated tokens of letters, digits, '-' or '_'`);
  instanceId(options.instanceId);
  handlerTimeout(options.handlerTimeoutMs);
  maxEventBytes(options.maxEventBytes);
  maxBufferBytes(options.maxBufferBytes);
  const u = new URL(url);
  const server = `${u.hostname}:${u.port || '4222'}`;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: server,
      name: `gatehouse-${options.instanceId}`,
      ...(u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {}),
      ...(u.protocol === 'tls:' ? { tls: {} } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      timeout: 5_000,
    });
  } catch (error) {
    // The URL may carry credentials: log only the server.
    throw new GatehouseError('ERR_BUS_UNAVAILABLE', { detail: `cannot connect to NATS at ${server}`, cause: error });
  }
  try {
    const jsm = await jetstreamManager(nc);
    const { maxAgeMs } = await ensureStream(jsm, stream, `${prefix}.>`, options.maxAgeMs ?? DEFAULT_MAX_AGE_MS);
    return new NatsEventBus(nc, jsm, { ...options, stream, subjectPrefix: prefix, durableInactiveMs: maxAgeMs });
  } catch (error) {
    await nc.close().catch(() => {});
    throw new GatehouseError('ERR_BUS_UNAVAILABLE', { detail: `JetStream stream ${stream} unavailable on ${server}`, cause: error });
  }
}

/**
 * Returns the stream's max age in ms (the existing stream's, which may differ from `maxAgeMs`;
 * the default for a stream without one), and whether the stream had to be created.
 */
async function ensureStream(jsm: JetStreamManager, name: string, subject: string, maxAgeMs: number): Promise<{ maxAgeMs: number; created: boolean }> {
  try {
    const info = await jsm.streams.info(name);
    if (!info.config.subjects?.includes(subject)) {
      throw new Error(`stream ${name} exists but does not capture ${subject} (subjects: ${info.config.subjects?.join(', ') ?? 'none'})`);
    }
    return { maxAgeMs: info.config.max_age > 0 ? Math.ceil(info.config.max_age / 1_000_000) : DEFAULT_MAX_AGE_MS, created: false };
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
  }
  await jsm.streams.add({
    name,
    subjects: [subject],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: maxAgeMs * 1_000_000,
    // Retried publishes carry the same msgID; this is how long duplicates are recognised.
    // The server refuses a window longer than the max age (bus.maxAgeMs may be 60 s).
    duplicate_window: Math.min(DUPLICATE_WINDOW_MS, maxAgeMs) * 1_000_000,
  });
  return { maxAgeMs, created: true };
}

export class NatsEventBus implements EventBus {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #instance: string;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;
  readonly #maxBuffer: number;
  readonly #maxBufferBytes: number;
  readonly #handlerTimeoutMs: number;
  readonly #maxEventBytes: number;
  readonly #durableInactiveMs: number;
  readonly #maxAgeMs: number;
  readonly #publisher: NatsPublisher;
  readonly #live = new Set<LiveSubscription>();
  readonly #durables = new Set<NatsDurableSubscription>();
  /** Events received by live subscriptions and not yet handled: what close() lets them finish. */
  readonly #liveIdle = new IdleTracker();
  readonly #stats = { dropped: 0, handlerErrors: 0, handlerTimeouts: 0, malformed: 0 };
  #connected = true;
  #closed = false;
  #restoring = false;

  /** `durableInactiveMs`: how long a durable consumer nobody pulls from is kept (the stream's max age). */
  constructor(nc: NatsConnection, jsm: JetStreamManager, options: EventBusOptions & { stream: string; subjectPrefix: string; durableInactiveMs: number }) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#instance = options.instanceId;
    this.#stream = options.stream;
    this.#prefix = options.subjectPrefix;
    this.#logger = options.logger;
    this.#maxBuffer = options.maxBuffer ?? 10_000;
    this.#maxBufferBytes = maxBufferBytes(options.maxBufferBytes);
    this.#handlerTimeoutMs = handlerTimeout(options.handlerTimeoutMs);
    this.#maxEventBytes = maxEventBytes(options.maxEventBytes);
    this.#durableInactiveMs = options.durableInactiveMs;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.#publisher = new NatsPublisher(jetstream(nc), { maxBuffer: this.#maxBuffer, maxBufferBytes: this.#maxBufferBytes, logger: this.#logger, onRetryableFailure: () => this.#restoreStream() });
    void this.#watchStatus();
  }

  /** Makes the stream again, RESTORE_DELAY_MS from now, if it is gone then; one check at a time, never throws. */
  #restoreStream(): void {
    if (this.#closed || this.#restoring || !this.#connected) return;
    this.#restoring = true;
    setTimeout(() => {
      if (this.#closed) return;
      ensureStream(this.#jsm, this.#stream, `${this.#prefix}.>`, this.#maxAgeMs).then(
        ({ created }) => {
          if (created) this.#logger?.warn({ stream: this.#stream }, 'event bus: JetStream stream was missing; created it again (events it held are lost)');
        },
        // NATS is unreachable or refuses: the next failure tries again.
        () => {},
      ).finally(() => {
        this.#restoring = false;
      });
    }, RESTORE_DELAY_MS).unref();
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.#connected = false;
          this.#logger?.warn({ server: s.server }, 'event bus: disconnected from NATS; reconnecting');
          break;
        case 'reconnect':
          this.#connected = true;
          this.#logger?.info({ server: s.server }, 'event bus: reconnected to NATS');
          break;
        case 'error':
          this.#logger?.error({ err: s.error }, 'event bus: NATS error');
          break;
        default:
          break;
      }
    }
  }

  /** Other instances and the stream may take any event: wanted while open. */
  wants(_name: EventName): boolean {
    return !this.#closed;
  }

  publish<N extends EventName>(name: N, payload: GatehouseEvents[N]): void {
    try {
      // The name becomes the subject: a name that is no event (`x.>`, whitespace, CRLF) put
      // wildcards or protocol lines on the wire, and its publish failed and was retried for ever.
      if (typeof name !== 'string' || !isEventName(name)) {
        this.#stats.malformed += 1;
        this.#logger?.error({ code: 'ERR_BUS_EVENT_INVALID', problem: 'name: not a known event' }, 'event bus: invalid event refused');
        return;
      }
      // What every subscriber would refuse on receipt is refused here, as in process: where it can
      // be traced to its publisher, and before it takes a place in the stream. The check reads
      // what JSON makes of the payload (the snapshot), as the subscribers will.
      const checked = checkPayload(name, snapshot(payload));
      if (!checked.ok) {
        this.#stats.malformed += 1;
        this.#logger?.error({ code: 'ERR_BUS_EVENT_INVALID', problem: checked.problem, event: name }, 'event bus: invalid event refused');
        return;
      }
      const envelope = createEnvelope(this.#instance, name, checked.payload as GatehouseEvents[N]);
      const data = JSON.stringify(envelope);
      // The bus's own limit, as in process; a server configured with a smaller max_payload lowers it.
      const limit = Math.min(this.#maxEventBytes, this.#nc.info?.max_payload ?? Infinity);
      const over = serializedOver(data, limit);
      if (over !== undefined) {
        this.#stats.dropped += 1;
        this.#logger?.error({ code: 'ERR_BUS_EVENT_TOO_LARGE', event: name, eventId: envelope.id, bytes: over, limit }, 'event bus: event over the size limit dropped');
        return;
      }
      this.#publisher.enqueue(`${this.#prefix}.${name}`, data, envelope.id, Buffer.byteLength(data));
    } catch (error) {
      this.#stats.dropped += 1;
      this.#logger?.error({ err: error, event: name }, 'event bus: event could not be published');
    }
  }

  subscribe(names: EventName[] | '*', handler: EventHandler, options: SubscribeOptions = {}): () => void {
    if (this.#closed) throw new Error('event bus is closed');
    const accepts = nameFilter(names);
    const handlerError = (error: unknown, event: { name: string; id: string }): void => {
      this.#stats.handlerErrors += 1;
      if (isHandlerTimeout(error)) this.#stats.handlerTimeouts += 1;
      this.#logger?.error({ err: error, event: event.name, eventId: event.id }, 'event bus: subscriber failed');
    };
    if (options.durable !== undefined) {
      const wanted = names === '*' ? names : [...new Set(names)];
      const durable = new NatsDurableSubscription({
        js: jetstream(this.#nc),
        jsm: this.#jsm,
        stream: this.#stream,
        durable: options.durable,
        group: durableGroupName(options.durable, wanted),
        // One subject per consumer: several filter subjects need NATS 2.10.
        filterSubject: wanted !== '*' && wanted.length === 1 ? `${this.#prefix}.${wanted[0]}` : `${this.#prefix}.>`,
        inactiveThresholdMs: this.#durableInactiveMs,
        accepts,
        handler,
        handlerTimeoutMs: this.#handlerTimeoutMs,
        logger: this.#logger,
        handlerError,
        refused: (refusal, where) => this.#refused(refusal, where),
        attachFailed: () => this.#restoreStream(),
        givenUp: (event, deliveries) => {
          this.#stats.dropped += 1;
          this.#logger?.error({ durable: options.durable, event: event.name, eventId: event.id, deliveries }, 'event bus: event given up after its last delivery failed');
        },
      });
      this.#durables.add(durable);
      this.#publisher.hold(durable.ready);
      durable.start();
      return () => {
        if (this.#durables.delete(durable)) void durable.stop();
      };
    }
    // The subject says nothing about the envelope inside: anyone who may publish on one of
    // ours can put another event's envelope there, which this subscriber never asked for.
    const decode = (data: string) => {
      const parsed = parseEnvelope(data);
      if (!parsed.ok) {
        this.#refused(parsed, {});
        return undefined;
      }
      return accepts(parsed.event.name) ? parsed.event : undefined;
    };
    const queue = new SubscriberQueue(handler, decode, this.#maxBuffer, {
      handlerError,
      // Refusals are counted and logged by decode; another event's envelope is just not ours.
      malformed: () => {},
      settled: (count) => this.#liveIdle.done(count),
    }, this.#handlerTimeoutMs, this.#maxBufferBytes);
    const overflow = new OverflowLog(this.#logger, 'subscriber');
    const subjects = names === '*' ? [`${this.#prefix}.>`] : [...new Set(names)].map((n) => `${this.#prefix}.${n}`);
    const live: LiveSubscription = {
      queue,
      subs: subjects.map((subject) =>
        this.#nc.subscribe(subject, {
          callback: (error, msg) => {
            if (error) {
              this.#logger?.error({ err: error }, 'event bus: subscription error');
              return;
            }
            if (queue.enqueue(msg.string(), msg.data.length)) {
              this.#liveIdle.add(1);
              return;
            }
            this.#stats.dropped += 1;
            overflow.dropped({ buffered: queue.length, bufferedBytes: queue.bytes, maxBuffer: this.#maxBuffer, maxBufferBytes: this.#maxBufferBytes });
          },
        }),
      ),
    };
    this.#live.add(live);
    return () => {
      if (!this.#live.delete(live)) return;
      for (const sub of live.subs) sub.unsubscribe();
      this.#liveIdle.done(queue.stop().length);
    };
  }

  /** A received message that is not a valid event: counted and logged with what was wrong, never with its content. */
  #refused(refusal: ParsedEnvelope & { ok: false }, where: { subject?: string; seq?: number }): void {
    this.#stats.malformed += 1;
    this.#logger?.error(
      { code: 'ERR_BUS_EVENT_INVALID', problem: refusal.problem, event: refusal.name, eventId: refusal.id, ...where },
      'event bus: invalid event refused',
    );
  }

  async health(): Promise<BusHealth> {
    if (this.#closed || this.#nc.isClosed()) return { ok: false, latencyMs: 0, detail: 'closed' };
    const started = performance.now();
    try {
      await withTimeout(Promise.all([this.#nc.rtt(), this.#jsm.streams.info(this.#stream)]), HEALTH_TIMEOUT_MS);
      const latencyMs = performance.now() - started;
      const buffered = this.#publisher.buffered;
      const failing = this.#publisher.failing;
      if (failing !== undefined) {
        return { ok: false, latencyMs, detail: `JetStream publish failing since ${new Date(failing.since).toISOString()} (${failing.error}); ${buffered} events awaiting publication` };
      }
      return buffered > 0 ? { ok: true, latencyMs, detail: `${buffered} events awaiting publication` } : { ok: true, latencyMs };
    } catch (error) {
      return {
        ok: false,
        latencyMs: performance.now() - started,
        detail: `${this.#connected ? 'JetStream not answering' : 'disconnected, reconnecting'}: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  stats(): BusStats {
    let buffered = this.#publisher.buffered;
    for (const live of this.#live) buffered += live.queue.length;
    return {
      published: this.#publisher.published,
      dropped: this.#stats.dropped + this.#publisher.dropped,
      publishFailures: this.#publisher.failures,
      handlerErrors: this.#stats.handlerErrors,
      handlerTimeouts: this.#stats.handlerTimeouts,
      malformed: this.#stats.malformed,
      buffered,
    };
  }

  /** NATS: resolves when durable subscriptions are attached and every buffered event is stored in the stream. */
  async flush(timeoutMs = 10_000): Promise<void> {
    await withTimeout(Promise.all([...this.#durables].map((d) => d.ready)), timeoutMs);
    await this.#publisher.waitIdle(timeoutMs);
    await withTimeout(this.#nc.flush(), timeoutMs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#publisher.close(5_000);
    // Handlers in progress finish and their acks go out before the connection closes.
    await withTimeout(Promise.all([...this.#durables].map((d) => d.stop())), 5_000).catch(() => {
      this.#logger?.warn('event bus: durable handlers still busy at close; their events will be redelivered');
    });
    this.#durables.clear();
    // Events published just before close reach live subscribers as the memory bus's do: the
    // round trip brings in what the server sent before it (our own events included), then
    // the inboxes get a bounded time to be handled. They were dropped at once.
    await withTimeout(this.#nc.flush(), 5_000).catch(() => {});
    for (const live of this.#live) for (const sub of live.subs) sub.unsubscribe();
    await this.#liveIdle.waitUntilAtMost(0, 5_000).catch((error: unknown) => {
      this.#logger?.warn({ err: error }, 'event bus: live subscribers still busy at close');
    });
    for (const live of this.#live) {
      const left = live.queue.stop().length;
      this.#stats.dropped += left;
      this.#liveIdle.done(left);
    }
    this.#live.clear();
    try {
      // drain() sends pending acks and unsubscribes before closing.
      await withTimeout(this.#nc.drain(), 5_000);
    } catch {
      await this.#nc.close().catch(() => {});
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
