/**
 * W3C Trace Context parsing against the cases of the W3C conformance suite
 * (w3c/trace-context test/test.py): what is continued, what restarts the trace, and which
 * `tracestate` lists are passed on.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTraceparent, validTracestate } from '../../src/observability/trace-context.ts';

const TRACE = '12345678901234567890123456789012';
const PARENT = '1234567890123456';

describe('traceparent', () => {
  it('continues version 00 and later versions with extra fields; refuses ff, all-zero ids, upper case and 00 with extra fields', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`), { traceId: TRACE, parentId: PARENT, flags: 1 });
    assert.equal(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`)?.traceId, TRACE);
    for (const bad of [
      `ff-${TRACE}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.replace('1', 'A')}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01-what-the-future-will-be-like`,
      `00-${TRACE}-${PARENT}-01.`, `cc-${TRACE}-${PARENT}-01.what-the-future-will-be-like`, `000-${TRACE}-${PARENT}-01`,
    ]) assert.equal(parseTraceparent(bad), undefined, bad);
  });
});

describe('tracestate', () => {
  it('drops a tracestate list that names a key twice instead of passing it upstream (W3C test_tracestate_duplicated_keys)', () => {
    assert.equal(validTracestate('foo=1,foo=1'), undefined);
    assert.equal(validTracestate('foo=1,foo=2'), undefined);
    assert.equal(validTracestate('foo=1, bar=2 ,\tfoo=3'), undefined);
    assert.equal(validTracestate('t@v=1,t@v=2'), undefined);
  });

  it('passes on well-formed lists, distinct keys that share a prefix included; drops malformed ones', () => {
    for (const good of ['foo=1', 'foo=1,bar=2', 'foo=1 \t , \t bar=2, \t baz=3', 'foo=1,foo@bar=2,fo=3', 't@v=1,v@t=2', `foo=1,${'z'.repeat(256)}=1`]) {
      assert.equal(validTracestate(good), good, good);
    }
    for (const bad of ['foo =1', 'FOO=1', 'foo.bar=1', 'foo@=1,bar=2', '@foo=1', 'foo@@bar=1', 'foo=bar=baz', 'foo=,bar=3', `${'z'.repeat(257)}=1`]) {
      assert.equal(validTracestate(bad), undefined, bad);
    }
    const members = Array.from({ length: 32 }, (_, i) => `bar${String(i).padStart(2, '0')}=${i}`);
    assert.equal(validTracestate(members.join(',')), members.join(','));
    assert.equal(validTracestate([...members, 'bar32=32'].join(',')), undefined);
  });
});
