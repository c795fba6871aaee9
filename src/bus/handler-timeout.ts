/**
 * Every handler call gets a bounded time. A returned promise that never settles (a lost
 * callback, a query waiting on a dead connection) used to hold its subscriber for ever with
 * nothing logged: on NATS the durable consumer stopped pulling and every later event of the
 * group waited on this instance; in process the subscriber's inbox filled and then dropped.
 *
 * Past the bound the delivery counts as failed, as if the handler had thrown (NATS durable:
 * nak and redelivery under the usual retry policy; otherwise a counted, logged handler
 * error), and the next event goes ahead. Nothing can cancel a promise: a late handler goes
 * on running beside the next event, and what it does when it settles is ignored.
 */
import { GatehouseError } from '../core/errors.ts';
import type { Envelope } from '../core/events.ts';
import type { EventHandler } from './types.ts';

export const DEFAULT_HANDLER_TIMEOUT_MS = 10_000;
/**
 * Below JetStream's ack_wait (30 s, nats-consumer.ts): a handler still running then would
 * see its event redelivered to another member while it runs.
 */
export const MAX_HANDLER_TIMEOUT_MS = 25_000;

/** Validates `EventBusOptions.handlerTimeoutMs` (a programming or wiring error, so it throws). */
export function handlerTimeout(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_HANDLER_TIMEOUT_MS;
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_HANDLER_TIMEOUT_MS) {
    throw new TypeError(`handlerTimeoutMs must be an integer from 1 to ${MAX_HANDLER_TIMEOUT_MS} (got ${ms})`);
  }
  return ms;
}

/** The failure a handler that did not settle in time counts as (logged with the event's name and id, never its payload). */
export function isHandlerTimeout(error: unknown): boolean {
  return error instanceof GatehouseError && error.code === 'ERR_BUS_HANDLER_TIMEOUT';
}

/**
 * Calls `handler`; undefined when it returned synchronously (throws what it throws), else a
 * promise that settles with the handler's, or rejects with ERR_BUS_HANDLER_TIMEOUT after `timeoutMs`.
 */
export function callHandler(handler: EventHandler, event: Envelope, timeoutMs: number): Promise<void> | undefined {
  const result = handler(event);
  if (result === undefined || typeof (result as Promise<unknown>).then !== 'function') return undefined;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new GatehouseError('ERR_BUS_HANDLER_TIMEOUT', { detail: `handler of ${event.name} ${event.id} did not settle within ${timeoutMs} ms` }));
    }, timeoutMs);
    // A hung handler must not keep a closing process alive.
    timer.unref();
    (result as Promise<unknown>).then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
