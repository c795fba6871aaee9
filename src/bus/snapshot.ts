/**
 * A deep-frozen copy of an event payload holding exactly what a JSON round trip would give
 * (the NATS backend's wire format), built in one walk instead of JSON.stringify at publish
 * plus JSON.parse per subscriber. Frozen, one copy can be shared by every subscriber: none
 * can change what another sees, and later changes to the publisher's object reach nobody.
 *
 * What JSON would refuse is refused the same way (TypeError for a cycle or a BigInt), so a
 * payload that cannot cross to NATS cannot be published in process either.
 */

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null || proto === Array.prototype;
};

/** Anything else (Date, Map, class instances, toJSON, boxed primitives) goes through JSON itself, for identical results. */
function viaJson(value: object): unknown {
  const json = JSON.stringify(value);
  return json === undefined ? undefined : freezeDeep(JSON.parse(json) as unknown);
}

function freezeDeep(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) freezeDeep((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/** `ancestors` holds the objects being copied above this one: JSON.stringify's cycle check. */
function copy(value: unknown, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // JSON writes NaN and ±Infinity as null, and -0 as 0.
      return Number.isFinite(value) ? value + 0 : null;
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      break;
    default:
      // undefined, functions and symbols: left out of objects, null in arrays (the caller decides).
      return undefined;
  }
  if (value === null) return null;
  if (ancestors.includes(value)) throw new TypeError('Converting circular structure to JSON');
  if (!isPlain(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return viaJson(value);
  ancestors.push(value);
  let out: unknown;
  if (Array.isArray(value)) {
    const list = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) list[i] = copy(value[i], ancestors) ?? null;
    out = list;
  } else {
    const record: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const v = copy((value as Record<string, unknown>)[key], ancestors);
      if (v === undefined) continue;
      // An own `__proto__` key stays an own property (as JSON.parse makes it), never a prototype.
      if (key === '__proto__') Object.defineProperty(record, key, { value: v, enumerable: true, writable: true, configurable: true });
      else record[key] = v;
    }
    out = record;
  }
  ancestors.pop();
  return Object.freeze(out);
}

/**
 * The frozen JSON-equivalent copy of `value`; `undefined` where JSON.stringify would give
 * nothing (e.g. a function). Throws what JSON.stringify throws.
 */
export function snapshot(value: unknown): unknown {
  return copy(value, []);
}
