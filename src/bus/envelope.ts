/**
 * Builds and checks envelopes. The id is a UUIDv7 from node:crypto: unique, and its first
 * 48 bits are the Unix time in milliseconds, so ids sort by creation time.
 */
import { randomUUIDv7 } from 'node:crypto';
import { isEventName, type Envelope, type EventName, type GatehouseEvents } from '../core/events.ts';
import { isoTime } from './iso-time.ts';
import { checkPayload } from './payload-schema.ts';

export function createEnvelope<N extends EventName>(instance: string, name: N, payload: GatehouseEvents[N]): Envelope<N> {
  return { id: randomUUIDv7(), time: isoTime(Date.now()), instance, name, payload } as Envelope<N>;
}

/**
 * What `isoTime` writes, and nothing else: `Date.parse` also read dates without a time, local
 * times, offsets and six-digit years, so a forged envelope could carry a time far from its
 * publication (round-tripped below, so 30 February is refused too).
 */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/**
 * How far ahead of the receiver's clock an envelope's time may be: clock skew between
 * instances. Further ahead is a forgery or a broken clock; detection counts any event no
 * later than its arrival, and audit records would read as written in the future. Times in the
 * past are not bounded: a durable backlog or a publish retried after an outage arrives late
 * with its own time.
 */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
/**
 * An instance id goes into logs, audit records and metrics labels: printable ASCII without
 * spaces, bounded (config's instanceId is narrower; the default is host name and pid).
 */
const INSTANCE = /^[\x21-\x7e]{1,256}$/;

/** Validates `EventBusOptions.instanceId`: every receiver would refuse its envelopes (a wiring error, so it throws). */
export function instanceId(id: string): string {
  if (typeof id !== 'string' || !INSTANCE.test(id)) throw new TypeError(`instanceId ${JSON.stringify(id)} must be 1 to 256 printable ASCII characters without spaces`);
  return id;
}

function isIsoUtc(time: unknown): time is string {
  if (typeof time !== 'string' || !ISO_UTC.test(time)) return false;
  const ms = Date.parse(time);
  return Number.isFinite(ms) && new Date(ms).toISOString() === time;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export type ParsedEnvelope =
  | { ok: true; event: Envelope }
  /** `name` and `id` only when they were found well-formed (for the log); `problem` never quotes a value. */
  | { ok: false; problem: string; name?: EventName; id?: string };

/**
 * Parses an envelope received from another process: the envelope's own fields, a known
 * event name, a strict UTC time not ahead of `now` by more than MAX_FUTURE_SKEW_MS, a bounded
 * printable instance id, and the payload against the event table (payload-schema.ts). Anyone who may
 * publish on the stream's subjects can put anything there, and subscribers are typed:
 * a payload of another shape reached them as if it were valid.
 */
export function parseEnvelope(data: string, now: number = Date.now()): ParsedEnvelope {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, problem: 'not an object' };
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || !UUID_V7.test(v.id)) return { ok: false, problem: 'id: not a UUIDv7' };
  const id = v.id;
  if (!isIsoUtc(v.time)) return { ok: false, problem: 'time: not an ISO 8601 UTC timestamp', id };
  if (Date.parse(v.time) > now + MAX_FUTURE_SKEW_MS) return { ok: false, problem: 'time: too far in the future', id };
  if (typeof v.name !== 'string' || !isEventName(v.name)) return { ok: false, problem: 'name: not a known event', id };
  const name = v.name;
  if (typeof v.instance !== 'string' || !INSTANCE.test(v.instance)) return { ok: false, problem: 'instance: not 1 to 256 printable ASCII characters', id, name };
  const payload = checkPayload(name, v.payload);
  if (!payload.ok) return { ok: false, problem: payload.problem, id, name };
  return { ok: true, event: { id, time: v.time, instance: v.instance, name, payload: payload.payload } as Envelope };
}

/**
 * Compiles a subscription filter into a predicate. Throws a TypeError for a name that is no
 * event: on NATS names become subjects, and `gateway.>` would have been a wildcard.
 */
export function nameFilter(names: readonly EventName[] | '*'): (name: EventName) => boolean {
  if (names === '*') return () => true;
  for (const name of names) {
    if (typeof name !== 'string' || !isEventName(name)) throw new TypeError(`${JSON.stringify(name)} is not an event name`);
  }
  const set = new Set<string>(names);
  return (name) => set.has(name);
}
