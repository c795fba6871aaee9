/**
 * The in-process bus hands subscribers `snapshot(payload)` where NATS hands them
 * `JSON.parse(JSON.stringify(payload))`; both backends must deliver the same values.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { snapshot } from '../../src/bus/snapshot.ts';

const viaJson = (value: unknown): unknown => {
  const json = JSON.stringify(value);
  return json === undefined ? undefined : JSON.parse(json);
};

class Point {
  x = 1;
  y = 2;
  hidden(): number { return 3; }
}

const sparse: unknown[] = [1];
sparse[3] = 4;

const withProto: Record<string, unknown> = JSON.parse('{"__proto__": {"isAdmin": true}, "user": "eve"}');

const fixtures: Record<string, unknown> = {
  'a flat request event': { requestId: 'r1', traceId: '', routeId: undefined, method: 'GET', path: '/a', status: 200, durationMs: 1.25, bytesIn: 0 },
  'nested objects and arrays': { a: { b: { c: [1, 'two', { three: 3 }, [4]] } }, list: [] },
  'numbers JSON cannot write (NaN, Infinity, -0)': { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, ninf: -Infinity, negZero: -0, list: [Number.NaN, -0] },
  'undefined, functions and symbols in objects and arrays': { u: undefined, f: () => 1, s: Symbol('x'), list: [undefined, () => 1, Symbol('y')], [Symbol('key')]: 1 },
  'a sparse array': { sparse },
  'a Date and an object with toJSON': { at: new Date(Date.UTC(2026, 10, 22, 10, 0, 0, 123)), custom: { toJSON: () => ({ replaced: true }) } },
  'a Map, a Set, a class instance and boxed primitives': { map: new Map([['a', 1]]), set: new Set([1]), point: new Point(), boxed: [Object('s'), Object(1), Object(true)] },
  'an object without prototype': Object.assign(Object.create(null) as object, { a: 1 }),
  'an own __proto__ key (prototype pollution attempt)': withProto,
  'a shared (non-cyclic) sub-object': (() => { const shared = { n: 1 }; return { a: shared, b: shared, c: [shared, shared] }; })(),
  'unicode and lone surrogates': { s: 'é \u2028 \ud800 \u0000' },
};

const assertFrozenDeep = (value: unknown, path = '$'): void => {
  if (typeof value !== 'object' || value === null) return;
  assert.ok(Object.isFrozen(value), `${path} is frozen`);
  for (const [k, v] of Object.entries(value)) assertFrozenDeep(v, `${path}.${k}`);
};

describe('bus payload snapshot', () => {
  for (const [name, value] of Object.entries(fixtures)) {
    it(`gives what a JSON round trip gives: ${name}`, () => {
      const copy = snapshot(value);
      assert.deepEqual(copy, viaJson(value));
      assertFrozenDeep(copy);
    });
  }

  it('keeps an own __proto__ key as data: the copy\'s prototype stays Object.prototype', () => {
    const copy = snapshot(withProto) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.equal((copy as { isAdmin?: unknown }).isAdmin, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value, { isAdmin: true });
  });

  it('does not copy keys a polluted Object.prototype makes enumerable', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = { isAdmin: true };
    proto.pollutedNumber = Number.NaN;
    try {
      const copy = snapshot({ a: 1, inner: { b: 2 } }) as Record<string, unknown>;
      assert.deepEqual(Object.keys(copy), ['a', 'inner']);
      assert.equal(Object.hasOwn(copy, 'polluted') || Object.hasOwn(copy, 'pollutedNumber'), false);
      assert.deepEqual(Object.keys(copy.inner as object), ['b']);
    } finally {
      delete proto.polluted;
      delete proto.pollutedNumber;
    }
  });

  it('copies: later changes to the original do not reach the snapshot', () => {
    const original = { list: [1, 2], inner: { a: 1 } };
    const copy = snapshot(original);
    original.list.push(3);
    original.inner.a = 2;
    assert.deepEqual(copy, { list: [1, 2], inner: { a: 1 } });
  });

  it('refuses a cyclic payload like JSON.stringify (TypeError)', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.inner = { back: [cyclic] };
    assert.throws(() => JSON.stringify(cyclic), TypeError);
    assert.throws(() => snapshot(cyclic), TypeError);
  });

  it('refuses a cycle through an object copied by JSON (a Map-holding class) like JSON.stringify', () => {
    const cyclic: Record<string, unknown> = {};
    const point = new Point() as Point & { back?: unknown };
    point.back = cyclic;
    cyclic.point = point;
    assert.throws(() => snapshot(cyclic), TypeError);
  });

  it('refuses a BigInt like JSON.stringify (TypeError)', () => {
    assert.throws(() => snapshot({ n: 1n }), TypeError);
  });

  it('propagates a throwing getter like JSON.stringify', () => {
    const hostile = { get boom(): never { throw new Error('getter'); } };
    assert.throws(() => snapshot(hostile), /getter/);
  });
});
