/**
 * Converts untrusted JSON (token claims, account attributes) into Cedar JSON values.
 *
 * Cedar's JSON format gives special meaning to records with the keys `__entity` and
 * `__extn`. An attribute taken from a token must never be able to become an entity
 * reference or an extension value, so keys starting with `__` are dropped. Cedar has no
 * floating point numbers: non-integers and integers beyond ±2^53 are dropped rather than
 * rounded. Depth and size are bounded so a hostile claim cannot make the request expensive.
 */
import type { CedarValueJson } from './cedar.ts';

const MAX_DEPTH = 6;
const MAX_ITEMS = 256;

/** Returns the Cedar value, or undefined when the value has no faithful Cedar form. */
export function toCedarValue(value: unknown, depth = 0): CedarValueJson | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isSafeInteger(value) ? value : undefined;
    case 'object': {
      if (value === null || depth >= MAX_DEPTH) return undefined;
      if (Array.isArray(value)) {
        const out: CedarValueJson[] = [];
        for (const item of value.slice(0, MAX_ITEMS)) {
          const v = toCedarValue(item, depth + 1);
          if (v !== undefined) out.push(v);
        }
        return out;
      }
      return toCedarRecord(value as Record<string, unknown>, depth + 1);
    }
    default:
      return undefined;
  }
}

/** A record of Cedar values; unsafe keys and unrepresentable values are left out. */
export function toCedarRecord(value: Readonly<Record<string, unknown>>, depth = 0): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = Object.create(null) as Record<string, CedarValueJson>;
  let n = 0;
  for (const key of Object.keys(value)) {
    if (key.startsWith('__') || n >= MAX_ITEMS) continue;
    const v = toCedarValue(value[key], depth);
    if (v !== undefined) {
      out[key] = v;
      n++;
    }
  }
  return out;
}

/**
 * Deterministic JSON text of a value (object keys sorted), used in cache keys so that
 * two equal attribute sets give the same key whatever their key order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
