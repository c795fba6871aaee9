/**
 * One size limit for an event on every backend. NATS refuses what is over its max_payload
 * (1 MiB by default) while the in-process bus took anything: an event that worked in a
 * single-process deployment was lost once the same configuration scaled out to NATS, and a
 * runaway payload (a config.rejected listing a huge file) was copied and kept in every
 * subscriber's inbox. Both backends now refuse an envelope over `maxEventBytes` (its JSON in
 * UTF-8, as NATS carries it) at publish: a counted drop, logged as ERR_BUS_EVENT_TOO_LARGE
 * with its name, id and size. The default stays below NATS's default max_payload with room for
 * the message headers, so the bus refuses first and the same way everywhere.
 */

export const DEFAULT_MAX_EVENT_BYTES = 1_000_000;
export const MIN_MAX_EVENT_BYTES = 1_024;
export const MAX_MAX_EVENT_BYTES = 64 * 1024 * 1024;

/** Validates `EventBusOptions.maxEventBytes` (a programming or wiring error, so it throws). */
export function maxEventBytes(bytes: number | undefined): number {
  if (bytes === undefined) return DEFAULT_MAX_EVENT_BYTES;
  if (!Number.isInteger(bytes) || bytes < MIN_MAX_EVENT_BYTES || bytes > MAX_MAX_EVENT_BYTES) {
    throw new TypeError(`maxEventBytes must be an integer from ${MIN_MAX_EVENT_BYTES} to ${MAX_MAX_EVENT_BYTES} (got ${bytes})`);
  }
  return bytes;
}

/**
 * An upper bound of the UTF-8 length of `JSON.stringify(value)` for a JSON-shaped value (a
 * snapshot), that stops counting once past `budget`. A UTF-16 unit is at most 6 bytes of
 * JSON (`\u001f`), a number at most 24 characters.
 */
function boundOver(value: unknown, budget: number): number {
  switch (typeof value) {
    case 'string':
      return value.length * 6 + 2;
    case 'number':
      return 24;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      let total = 2;
      if (Array.isArray(value)) {
        for (const item of value as unknown[]) {
          total += boundOver(item, budget - total) + 1;
          if (total > budget) return total;
        }
        return total;
      }
      // for-in, not Object.keys (no array per object); inherited keys only raise the bound.
      for (const key in value) {
        total += key.length * 6 + 4 + boundOver((value as Record<string, unknown>)[key], budget - total);
        if (total > budget) return total;
      }
      return total;
    }
    default:
      return 0;
  }
}

/**
 * The size in bytes of an envelope's JSON when it is over `limit`, else undefined. Exact
 * sizing (a JSON.stringify) is only paid when the cheap bound is over the limit.
 */
export function oversizedBy(envelope: object, limit: number): number | undefined {
  if (boundOver(envelope, limit) <= limit) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(envelope));
  return bytes > limit ? bytes : undefined;
}

/** The same test for an envelope already serialized: a UTF-16 unit of JSON text is at most 3 bytes of UTF-8. */
export function serializedOver(data: string, limit: number): number | undefined {
  if (data.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(data);
  return bytes > limit ? bytes : undefined;
}
