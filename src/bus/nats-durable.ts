/**
 * A durable subscription on JetStream: a durable pull consumer shared by every subscriber
 * (in any instance) with the same durable name and the same event names (the consumer is
 * the group `<durable>_<filter digest>`, made by nats-consumer.ts), so each event is handled
 * by one of them, and events published while all of them were away wait in the stream.
 *
 * Delivery is at least once: an event is acknowledged after its handler settles; a handler
 * that throws, or does not settle within handlerTimeoutMs, gets the event again (after 1 s,
 * at most MAX_DELIVER times in all), behind the events delivered meanwhile: redelivery breaks
 * publication order (docs/events.md). The loop
 * re-attaches after connection loss, and makes a consumer deleted under it again (the
 * client's own recovery would wait for it to reappear forever) from the first event after the
 * last one this subscriber settled, so the events published meanwhile are not lost (from the
 * first event when the stream itself was made again: its sequence numbers start over).
 *
 * Every event this subscriber holds, the one being handled and those of its pulled batch
 * waiting behind it, gets an in-progress ack (`working()`) every third of the consumer's
 * ack_wait: the ack_wait clock of a batch runs from its delivery, so a batch whose handlers
 * were slow but progressing (16 × 2 s) was redelivered, duplicates and all, while still being
 * handled. A handler past handlerTimeoutMs still fails its delivery (nak); its event is then no
 * longer held. Batches are fetched one at a time, not consumed, so every received event is
 * in hand (a consume iterator's buffer cannot be reached) and the batch bounds what is held.
 */
import type { Logger } from 'pino';
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { isGatehouseError } from '../core/errors.ts';
import type { Envelope, EventName } from '../core/events.ts';
import { parseEnvelope, type ParsedEnvelope } from './envelope.ts';
import { callHandler } from './handler-timeout.ts';
import { ACK_WAIT_NS, ensureGroupConsumer, resumePoint, type DurableGroupSpec, type StartPoint } from './nats-consumer.ts';
import { Fifo } from './fifo.ts';
import type { EventHandler } from './types.ts';

const RETRY_DELAY_MS = 1_000;
/** Small batches so that several instances sharing the consumer each get work. */
const BATCH = 16;
/** How long one fetch waits for its batch to fill; events are handled as they arrive meanwhile. */
const FETCH_EXPIRES_MS = 5_000;

export interface NatsDurableOptions extends DurableGroupSpec {
  js: JetStreamClient;
  jsm: JetStreamManager;
  accepts: (name: EventName) => boolean;
  handler: EventHandler;
  /** Past this a handler's delivery is nak'ed like a throw (handler-timeout.ts). */
  handlerTimeoutMs: number;
  logger: Logger | undefined;
  handlerError: (error: unknown, event: Envelope) => void;
  /** A message that is not a valid event (counted and logged by the bus); it is terminated here. */
  refused: (refusal: ParsedEnvelope & { ok: false }, where: { subject: string; seq: number }) => void;
  /** Called when attaching failed: the stream may be gone (the bus makes it again). */
  attachFailed?: () => void;
  /** The last delivery the consumer allows failed: the event is terminated, lost to this group (counted and logged by the bus). */
  givenUp?: (event: Envelope, deliveries: number) => void;
}

/** A resume point is a sequence number of one particular stream: the one created at `streamCreated`. */
interface Resume {
  point: StartPoint;
  streamCreated: string;
}

export class NatsDurableSubscription {
  readonly #o: NatsDurableOptions;
  /** The batch being fetched (stopped by stop()). */
  #messages: ConsumerMessages | undefined;
  /** How far the group's consumer had got as far as this subscriber knows: its start should it be deleted. */
  #resume: Resume | undefined;
  /**
   * The end of the stream when this subscriber first tried to attach: where a group with no
   * previous group starts. It used to start with new events only, as of the consumer's
   * creation, so when the first attempt failed (a conflicting consumer the operator then
   * deletes, a JetStream error) everything published until a retry succeeded was skipped:
   * the publisher stops waiting for a subscription once its first attempt has failed.
   */
  #since: Resume | undefined;
  #stopped = false;
  #markReady: () => void = () => {};
  /** Settles when the loop has ended (after stop(): the handler in progress has settled and been acked or nak'ed). */
  #done: Promise<void> = Promise.resolve();
  /** Ends the wait between attempts (stop() should not wait out a backoff). */
  #wake: () => void = () => {};
  /** Settles when the first attempt to attach to the consumer has succeeded or failed. */
  readonly ready: Promise<void>;

  constructor(options: NatsDurableOptions) {
    this.#o = options;
    this.ready = new Promise<void>((resolve) => {
      this.#markReady = resolve;
    });
  }

  start(): void {
    this.#done = this.#loop();
  }

  /**
   * Stops fetching; the events held behind the one being handled are given back. The promise
   * settles once that handler has settled and its event has been acknowledged (or given back):
   * the bus waits for it (bounded) before closing the connection, else the ack was lost with
   * it and the event went to another instance after ack_wait, handled twice.
   */
  stop(): Promise<void> {
    this.#stopped = true;
    // Stopped before its first fetch, the loop ends without marking it ready: the publisher,
    // held until then (nats-bus.ts), would hold every later event for ever.
    this.#markReady();
    this.#messages?.stop();
    this.#wake();
    return this.#done;
  }

  async #loop(): Promise<void> {
    let backoff = 250;
    while (!this.#stopped) {
      try {
        if (this.#since === undefined) {
          const stream = await this.#o.jsm.streams.info(this.#o.stream);
          this.#since = { point: { seq: stream.state.last_seq + 1 }, streamCreated: stream.created };
        }
        await ensureGroupConsumer(this.#o.jsm, this.#o, () => this.#resumePoint(), () => this.#freshStart());
        const consumer = await this.#o.js.consumers.get(this.#o.stream, this.#o.group);
        const streamCreated = (await this.#o.jsm.streams.info(this.#o.stream)).created;
        const info = await consumer.info(true);
        this.#resume = { point: resumePoint(info), streamCreated };
        // The consumer's own ack_wait: one made by hand or by another version may differ from ours.
        const workingEveryMs = Math.max(100, Math.floor((info.config.ack_wait ?? ACK_WAIT_NS) / 1_000_000 / 3));
        // Likewise its max_deliver (-1 or 0: unlimited).
        const maxDeliver = (info.config.max_deliver ?? 0) > 0 ? info.config.max_deliver as number : Infinity;
        while (!this.#stopped) {
          // A fetch, unlike consume, ends with an error when the consumer or stream is deleted.
          const batch = await consumer.fetch({ max_messages: BATCH, expires: FETCH_EXPIRES_MS });
          this.#messages = batch;
          this.#markReady();
          if (this.#stopped) batch.stop();
          await this.#handleBatch(batch, workingEveryMs, maxDeliver);
          backoff = 250;
        }
      } catch (error) {
        this.#markReady();
        if (this.#stopped) break;
        this.#o.attachFailed?.();
        // A consumer this subscriber may not share needs an operator; anything else is transient.
        const level = isGatehouseError(error) ? 'error' : 'warn';
        this.#o.logger?.[level]({ err: error, durable: this.#o.durable, consumer: this.#o.group }, 'event bus: durable consumer interrupted; retrying');
      }
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  /**
   * Handles a batch in order while it is still arriving; every event received and not yet
   * settled gets working() every `workingEveryMs`. Throws what ended the fetch abnormally.
   */
  async #handleBatch(batch: ConsumerMessages, workingEveryMs: number, maxDeliver: number): Promise<void> {
    const held = new Fifo<JsMsg>();
    let current: JsMsg | undefined;
    let ended = false;
    let failure: unknown;
    let wake: () => void = () => {};
    const reading = (async () => {
      try {
        for await (const m of batch) {
          held.push(m);
          wake();
        }
      } catch (error) {
        failure = error;
      } finally {
        ended = true;
        wake();
      }
    })();
    const heartbeat = setInterval(() => {
      current?.working();
      for (const m of held.peekAll()) m.working();
    }, workingEveryMs);
    heartbeat.unref();
    try {
      for (;;) {
        const m = held.shift();
        if (m === undefined) {
          if (ended) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
        if (this.#stopped) {
          // Give it back at once rather than after ack_wait.
          m.nak();
          continue;
        }
        current = m;
        await this.#handle(m, maxDeliver);
        current = undefined;
      }
    } finally {
      clearInterval(heartbeat);
    }
    await reading;
    if (failure !== undefined) throw failure;
  }

  async #handle(m: JsMsg, maxDeliver: number): Promise<void> {
    const parsed = parseEnvelope(m.string());
    if (!parsed.ok) {
      // Terminated: no delivery can make it valid, so it must not come back MAX_DELIVER times.
      this.#o.refused(parsed, { subject: m.subject, seq: m.seq });
      m.term();
      this.#settled(m.seq);
      return;
    }
    const event = parsed.event;
    if (!this.#o.accepts(event.name)) {
      // The filter is `<prefix>.>` for several names; every member of this group has the
      // same names (the group is named after them), so nobody here wants it.
      m.ack();
      this.#settled(m.seq);
      return;
    }
    try {
      const pending = callHandler(this.#o.handler, event, this.#o.handlerTimeoutMs);
      if (pending !== undefined) await pending;
      m.ack();
      this.#settled(m.seq);
    } catch (error) {
      this.#o.handlerError(error, event);
      const deliveries = m.info.deliveryCount;
      if (deliveries < maxDeliver) {
        m.nak(RETRY_DELAY_MS);
        return;
      }
      // The server would drop it silently after this nak: the group loses the event (the
      // audit log a record) with nothing but the handler errors to say so.
      m.term();
      this.#settled(m.seq);
      this.#o.givenUp?.(event, deliveries);
    }
  }

  /** Where a consumer made again starts: undefined when this subscriber was never attached. */
  async #resumePoint(): Promise<StartPoint | undefined> {
    const resume = this.#resume;
    if (resume === undefined) return undefined;
    const created = (await this.#o.jsm.streams.info(this.#o.stream)).created;
    return created === resume.streamCreated ? resume.point : { seq: 1 };
  }

  /** Where a group with no previous group starts: after what the stream held at the first attempt (all of it, if made again since). */
  async #freshStart(): Promise<StartPoint> {
    const since = this.#since;
    if (since === undefined) return 'new';
    const created = (await this.#o.jsm.streams.info(this.#o.stream)).created;
    return created === since.streamCreated ? since.point : { seq: 1 };
  }

  /** Stream sequence `seq` is done with here: a consumer made again starts after it. */
  #settled(seq: number): void {
    const r = this.#resume;
    if (r === undefined) return;
    const p = r.point;
    if (p === 'new' || 'time' in p || p.seq <= seq) r.point = { seq: seq + 1 };
  }
}
