/**
 * A durable subscription on JetStream: a durable pull consumer shared by every subscriber
 * (in any instance) with the same durable name and the same event names (the consumer is
 * the group `<durable>_<filter digest>`, made by nats-consumer.ts), so each event is handled
 * by one of them, and events published while all of them were away wait in the stream.
 *
 * Delivery is at least once: an event is acknowledged after its handler settles; a handler
 * that throws gets the event again (after 1 s, at most MAX_DELIVER times in all). The loop
 * re-creates the consumer and resumes after connection loss or consumer deletion.
 */
import type { Logger } from 'pino';
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { isGatehouseError } from '../core/errors.ts';
import type { Envelope, EventName } from '../core/events.ts';
import { parseEnvelope } from './envelope.ts';
import { ensureGroupConsumer, type DurableGroupSpec } from './nats-consumer.ts';
import type { EventHandler } from './types.ts';

const RETRY_DELAY_MS = 1_000;
/** Small batches so that several instances sharing the consumer each get work. */
const BATCH = 16;

export interface NatsDurableOptions extends DurableGroupSpec {
  js: JetStreamClient;
  jsm: JetStreamManager;
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
        await ensureGroupConsumer(this.#o.jsm, this.#o);
        const consumer = await this.#o.js.consumers.get(this.#o.stream, this.#o.group);
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
        // A consumer this subscriber may not share needs an operator; anything else is transient.
        const level = isGatehouseError(error) ? 'error' : 'warn';
        this.#o.logger?.[level]({ err: error, durable: this.#o.durable, consumer: this.#o.group }, 'event bus: durable consumer interrupted; retrying');
      }
      if (this.#stopped) break;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  async #handle(m: JsMsg): Promise<void> {
    const event = parseEnvelope(m.string());
    if (event === undefined) {
      this.#o.logger?.error({ subject: m.subject, seq: m.seq }, 'event bus: malformed event discarded');
      m.term();
      return;
    }
    if (!this.#o.accepts(event.name)) {
      // The filter is `<prefix>.>` for several names; every member of this group has the
      // same names (the group is named after them), so nobody here wants it.
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
