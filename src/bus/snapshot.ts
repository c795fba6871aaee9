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

/** Sets a data property; an own `__proto__` key stays an own property (as JSON.parse makes it), never a prototype. */
function put(record: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

/** What JSON makes of a value that is not `isClean`; undefined means left out. */
function convert(value: unknown, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'number':
      // NaN and ±Infinity become null, -0 becomes 0.
      return Number.isFinite(value) ? 0 : null;
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      return value === null ? null : copyObject(value, ancestors);
    case 'string':
    case 'boolean':
      return value;
    default:
      // undefined, functions and symbols.
      return undefined;
  }
}

const isClean = (value: unknown): boolean => {
  const type = typeof value;
  return type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(value) && (value !== 0 || 1 / (value as number) > 0));
};

function copyRecord(value: object, ancestors: object[]): Record<string, unknown> {
  // A spread copies the own enumerable properties (getters read once, as JSON does) and keeps the
  // source's hidden class, which makes it much cheaper than adding keys one by one; most payloads
  // are flat and clean, so the loop below then only looks.
  const out: Record<string, unknown> = { ...value };
  for (const key in out) {
    const v = out[key];
    // for-in also lists enumerable keys a polluted Object.prototype would add: not ours.
    if (isClean(v) || !Object.hasOwn(out, key)) continue;
    const converted = convert(v, ancestors);
    if (converted === undefined) delete out[key];
    else put(out, key, converted);
  }
  // A spread copies symbol keys too; JSON leaves them out.
  for (const symbol of Object.getOwnPropertySymbols(out)) delete out[symbol as unknown as string];
  return out;
}

function copyArray(value: readonly unknown[], ancestors: object[]): unknown[] {
  const list = new Array<unknown>(value.length);
  // Holes, undefined, functions and symbols become null in arrays.
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    list[i] = isClean(v) ? v : convert(v, ancestors) ?? null;
  }
  return list;
}

/** `ancestors` holds the objects being copied above this one: JSON.stringify's cycle check. */
function copyObject(value: object, ancestors: object[]): unknown {
  if (ancestors.includes(value)) throw new TypeError('Converting circular structure to JSON');
  if (!isPlain(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return viaJson(value);
  ancestors.push(value);
  const out = Array.isArray(value) ? copyArray(value, ancestors) : copyRecord(value, ancestors);
  ancestors.pop();
  return Object.freeze(out);
}

/**
 * The frozen JSON-equivalent copy of `value`; `undefined` where JSON.stringify would give
 * nothing (e.g. a function). Throws what JSON.stringify throws.
 */
export function snapshot(value: unknown): unknown {
  return isClean(value) ? value : convert(value, []);
}
