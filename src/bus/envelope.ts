/**
 * Builds and checks envelopes. The id is a UUIDv7 from node:crypto: unique, and its first
 * 48 bits are the Unix time in milliseconds, so ids sort by creation time.
 */
import { randomUUIDv7 } from 'node:crypto';
import { isEventName, type Envelope, type EventName, type GatehouseEvents } from '../core/events.ts';
import { isoTime } from './iso-time.ts';

export function createEnvelope<N extends EventName>(instance: string, name: N, payload: GatehouseEvents[N]): Envelope<N> {
  return { id: randomUUIDv7(), time: isoTime(Date.now()), instance, name, payload } as Envelope<N>;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Parses an envelope received from another process. Checks the envelope's own fields and
 * that the name is known; the payload is trusted as far as its publisher is (the bus is
 * inside the trust boundary), so it is only checked to be an object.
 * Returns undefined for anything that is not a well-formed envelope.
 */
export function parseEnvelope(data: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || !UUID_V7.test(v.id)) return undefined;
  if (typeof v.time !== 'string' || Number.isNaN(Date.parse(v.time))) return undefined;
  if (typeof v.instance !== 'string' || typeof v.name !== 'string' || !isEventName(v.name)) return undefined;
  if (typeof v.payload !== 'object' || v.payload === null || Array.isArray(v.payload)) return undefined;
  return { id: v.id, time: v.time, instance: v.instance, name: v.name, payload: v.payload } as Envelope;
}

/** Compiles a subscription filter into a predicate. */
export function nameFilter(names: readonly EventName[] | '*'): (name: EventName) => boolean {
  if (names === '*') return () => true;
  const set = new Set<string>(names);
  return (name) => set.has(name);
}
