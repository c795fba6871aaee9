/**
 * JSON columns are `text` on both backends (PostgreSQL `jsonb` refuses `\u0000` and
 * reorders keys). Values are serialized here, and only here.
 */
import { GatehouseError } from '../core/errors.ts';

/** Serializes a JSON value; refuses what JSON cannot represent (undefined, BigInt, cycles). */
export function toJsonText(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'value is not JSON-serializable', cause });
  }
  if (typeof text !== 'string') {
    throw new GatehouseError('ERR_STORE_VALUE_INVALID', { detail: 'value is not JSON-serializable' });
  }
  return text;
}

/**
 * Parses stored JSON. `JSON.parse` defines `__proto__` as an own property instead of
 * setting the prototype, so stored data cannot pollute prototypes.
 */
export function fromJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new GatehouseError('ERR_INTERNAL', { detail: 'stored JSON is corrupt', cause });
  }
}
