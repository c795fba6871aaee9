/**
 * The event bus contract. Components publish typed events (src/core/events.ts); the audit
 * log, metrics, anomaly detection and other instances subscribe.
 *
 * `publish` sits on the request path, so it never blocks and never throws: events are
 * buffered and delivered later; failures are logged and counted, never propagated.
 */
import type { Logger } from 'pino';
import type { Envelope, EventName, GatehouseEvents } from '../core/events.ts';

/** A returned promise is awaited (its value ignored) before the next event goes to this handler. */
export type EventHandler = (event: Envelope) => void | Promise<unknown>;

export interface SubscribeOptions {
  /**
   * Name of a durable subscription. Subscribers that share a durable name and ask for the
   * same event names share the work (each event goes to one of them), and events published
   * while none is subscribed are kept for them (NATS: in the stream; memory: in a bounded
   * in-process backlog). Subscribers of the name asking for other event names form another
   * group that gets its own copy of every event it asks for (see durable-name.ts).
   * Without it a subscription is live only: it sees events published while it exists.
   * Letters, digits, `-` and `_` only.
   */
  durable?: string;
}

export interface BusHealth {
  ok: boolean;
  /** Round trip to the backend (0 for the in-process bus). */
  latencyMs: number;
  detail?: string;
}

/** Counters for metrics. All are totals since the bus was created. */
export interface BusStats {
  published: number;
  /** Events refused because the publish buffer or a subscriber's inbox was full (`maxBuffer`, NATS also `maxBufferBytes`), over `maxEventBytes` (or what NATS can take), left over at close, or (NATS durable) given up after the consumer's last delivery failed. */
  dropped: number;
  /** Backend publish attempts that failed (each is retried while the event stays buffered). */
  publishFailures: number;
  /** Handler invocations that threw, rejected or did not settle within `handlerTimeoutMs`. */
  handlerErrors: number;
  /** Of `handlerErrors`, those that did not settle in time (ERR_BUS_HANDLER_TIMEOUT). */
  handlerTimeouts: number;
  /**
   * Events refused because their envelope or payload does not match the event table
   * (ERR_BUS_EVENT_INVALID), never handed to a subscriber: NATS counts them on receipt, per
   * subscription; the in-process bus at publish.
   */
  malformed: number;
  /** Events waiting to be handed to the backend or to subscribers right now. */
  buffered: number;
}

export interface EventBus {
  /** Never blocks, never throws; the event is delivered asynchronously. */
  publish<N extends EventName>(name: N, payload: GatehouseEvents[N]): void;
  /**
   * False only when publishing `name` now would reach nobody: the in-process bus with no
   * subscriber and no durable group for it (whose backlog would keep it). A publisher of a
   * per-request event may then skip building the payload at all — the request path's
   * `gateway.request` costs ~12 µs of copying, checking and enveloping per request that way.
   * NATS: always true while open (other instances, and the stream, may take it).
   */
  wants(name: EventName): boolean;
  /**
   * Calls `handler` for each matching event, one at a time (the next event waits until a
   * returned promise settles, for at most `handlerTimeoutMs`). In publication order per
   * publisher, except on NATS for a publish that was retried and, on a durable subscription,
   * for an event redelivered after a failed delivery: those arrive after later events
   * (docs/events.md, Delivery). A handler that throws affects neither the publisher nor other
   * subscribers; one that does not settle in time counts as failed like one that threw.
   * Returns a function that ends the subscription.
   */
  subscribe(names: EventName[] | '*', handler: EventHandler, options?: SubscribeOptions): () => void;
  health(): Promise<BusHealth>;
  stats(): BusStats;
  /**
   * Resolves once every event published before the call has been accepted by the backend
   * (memory: handled by the local subscribers; NATS: stored in the stream) and every
   * subscription made before the call is active. For graceful shutdown and tests.
   * Rejects when that takes longer than `timeoutMs` (default 10 s).
   */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes (bounded), stops subscriptions and releases connections. Idempotent. */
  close(): Promise<void>;
}

export interface EventBusOptions {
  /** Written into every envelope's `instance`. */
  instanceId: string;
  logger?: Logger;
  /** NATS: JetStream stream name (default `GATEHOUSE`). */
  stream?: string;
  /** NATS: subject prefix; events go to `<prefix>.<event name>` (default `gatehouse`). */
  subjectPrefix?: string;
  /** NATS: how long the stream keeps events (default 7 days). */
  maxAgeMs?: number;
  /**
   * How long a handler's returned promise may take (default 10 s, at most 25 s: below
   * JetStream's ack_wait). Past it the delivery counts as failed (NATS durable: redelivered
   * as after a throw), is logged as ERR_BUS_HANDLER_TIMEOUT with the event's name and id, and
   * the next event goes ahead; the late handler is not cancelled.
   */
  handlerTimeoutMs?: number;
  /**
   * Largest envelope, in bytes of its JSON (default 1 000 000: below NATS's default
   * max_payload of 1 MiB). A larger event is refused at publish on every backend: a counted
   * drop logged as ERR_BUS_EVENT_TOO_LARGE with its name, id and size. NATS: a server with a
   * smaller max_payload lowers the limit.
   */
  maxEventBytes?: number;
  /** Most events buffered for publication (NATS) or per subscriber (memory) before new ones are dropped. Default 10 000. */
  maxBuffer?: number;
  /**
   * NATS: most bytes of event JSON buffered for publication, and waiting in each live
   * subscriber's inbox, before new events are dropped (counted in `dropped`, logged); default
   * 64 MiB. Without it `maxBuffer` events of up to `maxEventBytes` each could pile up (10 GB).
   * An empty queue takes any event.
   */
  maxBufferBytes?: number;
}
