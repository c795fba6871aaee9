import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatTraceparent, generateSpanId, generateTraceId, parseTraceparent, startTraceContext, validTracestate,
} from '../../src/observability/trace-context.ts';

// The example of the W3C Trace Context recommendation, §3.2.
const W3C_EXAMPLE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('parseTraceparent', () => {
  test('parses the W3C example', () => {
    assert.deepEqual(parseTraceparent(W3C_EXAMPLE), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: 1 });
  });

  test('refuses version ff, upper-case hex, zero ids, wrong lengths, version 00 with extra fields and repeats', () => {
    const invalid = [
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g',
      '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
      ' 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0',
      '',
    ];
    for (const value of invalid) assert.equal(parseTraceparent(value), undefined, value);
    assert.equal(parseTraceparent([W3C_EXAMPLE, W3C_EXAMPLE]), undefined);
    assert.equal(parseTraceparent(undefined), undefined);
  });

  // W3C Trace Context, "Versioning of traceparent": a later version is read by the version-00
  // layout of its first four fields, which must end the value or be followed by "-".
  test('continues a later version\'s trace (extra fields after a dash ignored) instead of breaking it at the gateway', () => {
    const expected = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: 1 };
    for (const value of [
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like',
      'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-',
    ]) assert.deepEqual(parseTraceparent(value), expected, value);
    assert.equal(parseTraceparent('fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-08-x')?.flags, 8);
    for (const value of [
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future-will-be-like',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0',
      '01-00000000000000000000000000000000-00f067aa0ba902b7-01-x',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01-x',
      '01-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01-x',
      'AB-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ]) assert.equal(parseTraceparent(value), undefined, value);
    // Passed on as the version Gatehouse speaks.
    const trace = startTraceContext('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future', true);
    assert.equal(trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(trace.parentSpanId, '00f067aa0ba902b7');
    assert.match(trace.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });
});

describe('startTraceContext', () => {
  test('continues a trusted peer\'s trace with a new span of its own', () => {
    const trace = startTraceContext(W3C_EXAMPLE, true);
    assert.equal(trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(trace.parentSpanId, '00f067aa0ba902b7');
    assert.notEqual(trace.spanId, '00f067aa0ba902b7');
    assert.equal(trace.sampled, true);
    assert.equal(formatTraceparent(trace), `00-4bf92f3577b34da6a3ce929d0e0e4736-${trace.spanId}-01`);
    assert.equal(trace.traceparent, formatTraceparent(trace));
  });

  test('an untrusted client cannot choose the trace id or force sampling', () => {
    const trace = startTraceContext(W3C_EXAMPLE, false);
    assert.notEqual(trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(trace.parentSpanId, undefined);
    assert.equal(trace.sampled, false);
  });

  test('an invalid traceparent starts a new trace', () => {
    const trace = startTraceContext('ff-garbage', true);
    assert.equal(trace.parentSpanId, undefined);
    assert.ok(parseTraceparent(formatTraceparent(trace)));
  });
});

describe('id generation', () => {
  test('ids are lower-case hex of the right length, valid, and distinct', () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const t = generateTraceId();
      const s = generateSpanId();
      assert.match(t, /^[0-9a-f]{32}$/);
      assert.match(s, /^[0-9a-f]{16}$/);
      traces.add(t);
      spans.add(s);
    }
    assert.equal(traces.size, 5000);
    assert.equal(spans.size, 5000);
  });

  test('new traces get valid, distinct ids that do not reuse each other\'s random bytes', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const trace = startTraceContext(undefined, true);
      assert.match(trace.traceId, /^[0-9a-f]{32}$/);
      assert.match(trace.spanId, /^[0-9a-f]{16}$/);
      assert.ok(parseTraceparent(formatTraceparent(trace)));
      // The upstream's header is made with the ids, not from them: it must say the same.
      assert.equal(trace.traceparent, formatTraceparent(trace));
      assert.ok(!trace.traceId.includes(trace.spanId));
      ids.add(trace.traceId);
      ids.add(trace.spanId);
    }
    assert.equal(ids.size, 10_000, 'no id repeats, within or across traces');
  });
});

describe('validTracestate', () => {
  test('passes well-formed values', () => {
    for (const value of ['rojo=00f067aa0ba902b7', 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', 'tenant@vendor=x', 'a=1, b=2']) assert.equal(validTracestate(value), value);
  });
  test('drops over-long, malformed, repeated and too-many-member values', () => {
    assert.equal(validTracestate('a=' + 'x'.repeat(600)), undefined);
    assert.equal(validTracestate('A=1'), undefined);
    assert.equal(validTracestate('a=1\r\nx'), undefined);
    assert.equal(validTracestate('novalue'), undefined);
    assert.equal(validTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')), undefined);
    assert.equal(validTracestate(['a=1', 'b=2']), undefined);
    assert.equal(validTracestate(''), undefined);
  });
});
