/**
 * A durable subscription on JetStream: a durable pull consumer shared by every subscriber
 * (in any instance) that uses the same name, so each event is handled by one of them, and
 * events published while all of them were away wait in the stream.
 *
 * Delivery is at least once: an event is acknowledged after its handler settles; a handler
 * that throws gets the event again (after 1 s, at most MAX_DELIVER times in all). The loop
 * re-creates the consumer and resumes after connection loss or consumer deletion.
 */
import type { Logger } from 'pino';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Envelope, EventName } from '../core/events.ts';
import { parseEnvelope } from './envelope.ts';
import type { EventHandler } from './types.ts';

export const MAX_DELIVER = 5;
const ACK_WAIT_NS = 30_000 * 1_000_000;
const RETRY_DELAY_MS = 1_000;
/** Small batches so that several instances sharing the consumer each get work. */
const BATCH = 16;

export interface NatsDurableOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  durable: string;
  /** One subject, or `<prefix>.>` when several names are wanted (filtered here). */
  filterSubject: string;
  accepts: (name: EventName) => boolean;
  handler: EventHandler;
  logger: Logger | undefined;
  handlerError: (error: unknown, event: Envelope) => void;
}

export class NatsDurableSubscription {
  readonly #o: NatsDurableOptions;
  #messages: ConsumerMessages | undefined;
  #stopped = false;
  #markReady: () => void = () => {};
  /** Settles when the first attempt to attach to the consumer has succeeded or failed. */
  readonly ready: Promise<void>;

  constructor(options: NatsDurableOptions) {
    this.#o = options;
    this.ready = new Promise<void>((resolve) => {
      this.#markReady = resolve;
    });
  }

  start(): void {
    void this.#loop();
  }

  stop(): void {
    this.#stopped = true;
    this.#messages?.stop();
  }

  async #loop(): Promise<void> {
    let backoff = 250;
    while (!this.#stopped) {
      try {
        await this.#ensureConsumer();
        const consumer = await this.#o.js.consumers.get(this.#o.stream, this.#o.durable);
        this.#messages = await consumer.consume({ max_messages: BATCH });
        this.#markReady();
        if (this.#stopped) this.#messages.stop();
        backoff = 250;
        for await (const m of this.#messages) {
          if (this.#stopped) {
            // Give it back at once rather than after ack_wait.
            m.nak();
            continue;
          }
          await this.#handle(m);
        }
      } catch (error) {
        this.#markReady();
        if (this.#stopped) break;
        this.#o.logger?.warn({ err: error, durable: this.#o.durable }, 'event bus: durable consumer interrupted; retrying');
      }
      if (this.#stopped) break;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  async #ensureConsumer(): Promise<void> {
    const { jsm, stream, durable, filterSubject } = this.#o;
    try {
      const info = await jsm.consumers.info(stream, durable);
      if (info.config.filter_subject !== filterSubject) {
        await jsm.consumers.update(stream, durable, { filter_subject: filterSubject });
      }
      return;
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    }
    // Two instances may race here; creating an identical consumer twice is not an error.
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      // A new durable starts with the events published after it exists.
      deliver_policy: DeliverPolicy.New,
      filter_subject: filterSubject,
      ack_wait: ACK_WAIT_NS,
      max_deliver: MAX_DELIVER,
    });
  }

  async #handle(m: JsMsg): Promise<void> {
    const event = parseEnvelope(m.string());
    if (event === undefined) {
      this.#o.logger?.error({ subject: m.subject, seq: m.seq }, 'event bus: malformed event discarded');
      m.term();
      return;
    }
    if (!this.#o.accepts(event.name)) {
      m.ack();
      return;
    }
    try {
      const result = this.#o.handler(event);
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') await result;
      m.ack();
    } catch (error) {
      this.#o.handlerError(error, event);
      m.nak(RETRY_DELAY_MS);
    }
  }
}
