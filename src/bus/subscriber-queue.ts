/**
 * One subscriber's inbox: events wait here and are handed to the handler one at a time,
 * in arrival order, on a later turn of the event loop. This is what keeps a slow or
 * throwing subscriber away from the publisher and from every other subscriber.
 */
import type { Envelope } from '../core/events.ts';
import type { EventHandler } from './types.ts';
import { Fifo } from './fifo.ts';
import { callHandler } from './handler-timeout.ts';
import { fits } from './buffer-budget.ts';

export interface SubscriberQueueHooks<T = string> {
  /** The handler threw, rejected or did not settle in time (ERR_BUS_HANDLER_TIMEOUT). */
  handlerError(error: unknown, event: Envelope): void;
  /** A queued item could not be decoded into an envelope. */
  malformed(item: T): void;
  /** `count` queued events were handled (or discarded by stop()); for flush accounting. */
  settled(count: number): void;
}

/** Sync handlers are run in slices of this many events so a backlog cannot starve I/O. */
const SLICE = 256;

/** `T` is what waits in the inbox: serialized envelopes (NATS) or frozen envelopes (memory). */
export class SubscriberQueue<T = string> {
  readonly #handler: EventHandler;
  readonly #decode: (item: T) => Envelope | undefined;
  readonly #maxBuffer: number;
  readonly #hooks: SubscriberQueueHooks<T>;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #items = new Fifo<T>();
  /** Each queued item's size in bytes, in step with #items. */
  readonly #sizes = new Fifo<number>();
  #bytes = 0;
  #scheduled = false;
  #stopped = false;

  /**
   * `decode` turns a queued item into an envelope; undefined means malformed (skipped, reported).
   * `timeoutMs`: how long a returned promise may take before the next event goes ahead (handler-timeout.ts).
   * `maxBytes`: the byte budget of what waits (buffer-budget.ts), counted from the sizes given to enqueue().
   */
  constructor(handler: EventHandler, decode: (item: T) => Envelope | undefined, maxBuffer: number, hooks: SubscriberQueueHooks<T>, timeoutMs: number, maxBytes = Infinity) {
    this.#handler = handler;
    this.#decode = decode;
    this.#maxBuffer = maxBuffer;
    this.#hooks = hooks;
    this.#timeoutMs = timeoutMs;
    this.#maxBytes = maxBytes;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Bytes waiting (as given to enqueue). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues an envelope of `bytes` bytes; false when the inbox is full or stopped (the caller counts a drop). */
  enqueue(item: T, bytes = 0): boolean {
    if (this.#stopped || !fits(this.#items.length, this.#bytes, bytes, this.#maxBuffer, this.#maxBytes)) return false;
    this.#items.push(item);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    this.#schedule();
    return true;
  }

  /** Stops delivery; returns what was still waiting (the handler call in progress finishes). */
  stop(): T[] {
    this.#stopped = true;
    this.#sizes.drain();
    this.#bytes = 0;
    return this.#items.drain();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#run());
  }

  async #run(): Promise<void> {
    let handled = 0;
    while (!this.#stopped && this.#items.length > 0) {
      const item = this.#items.shift() as T;
      this.#bytes -= this.#sizes.shift() as number;
      const event = this.#decode(item);
      if (event === undefined) {
        this.#hooks.malformed(item);
      } else {
        try {
          const pending = callHandler(this.#handler, event, this.#timeoutMs);
          if (pending !== undefined) await pending;
        } catch (error) {
          this.#hooks.handlerError(error, event);
        }
      }
      this.#hooks.settled(1);
      handled += 1;
      if (handled % SLICE === 0) {
        // Yield to I/O before the next slice.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    this.#scheduled = false;
    // An event may have arrived while the last handler was awaited after the loop test.
    if (!this.#stopped && this.#items.length > 0) this.#schedule();
  }
}
