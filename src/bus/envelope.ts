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

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export type ParsedEnvelope =
  | { ok: true; event: Envelope }
  /** `name` and `id` only when they were found well-formed (for the log); `problem` never quotes a value. */
  | { ok: false; problem: string; name?: EventName; id?: string };

/**
 * Parses an envelope received from another process: the envelope's own fields, a known
 * event name, and the payload against the event table (payload-schema.ts). Anyone who may
 * publish on the stream's subjects can put anything there, and subscribers are typed:
 * a payload of another shape reached them as if it were valid.
 */
export function parseEnvelope(data: string): ParsedEnvelope {
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
  if (typeof v.time !== 'string' || Number.isNaN(Date.parse(v.time))) return { ok: false, problem: 'time: not a time', id };
  if (typeof v.name !== 'string' || !isEventName(v.name)) return { ok: false, problem: 'name: not a known event', id };
  const name = v.name;
  if (typeof v.instance !== 'string') return { ok: false, problem: 'instance: not a string', id, name };
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
