/**
 * What a received envelope's `time` and `instance` may be. Anyone who may publish on the
 * stream's subjects writes both; subscribers (audit, detection) read them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FUTURE_SKEW_MS, parseEnvelope } from '../../src/bus/envelope.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';

const NOW = Date.parse('2026-11-22T20:00:00.000Z');
const base = { id: '01a2023b-befd-7f98-918b-f826a8ef68fc', time: '2026-11-22T19:59:59.123Z', instance: 'gw-1', name: 'detect.block.lifted', payload: { blockId: 'b1', kind: 'subject', value: 'carol', liftedBy: 'admin:x' } };
const parse = (fields: Record<string, unknown>) => parseEnvelope(JSON.stringify({ ...base, ...fields }), NOW);

describe('envelope time and instance', () => {
  it('accepts what createEnvelope writes', () => {
    assert.equal(parse({}).ok, true);
  });

  it('refuses a time that is not a strict ISO 8601 UTC timestamp (anything Date.parse reads was taken)', () => {
    for (const time of ['2026-11-22', '2026-11-22T19:59:59Z', '2026-11-22T19:59:59.123+02:00', 'Sun, 22 Nov 2026 19:59:59 GMT', '11/22/2026', '2026-11-22 19:59:59.123Z',
      '+275760-09-13T00:00:00.000Z', '2026-02-30T00:00:00.000Z', '2026-11-22T24:00:00.000Z', ' 2026-11-22T19:59:59.123Z', '2026-11-22T19:59:59.123Z\r\n', 1_700_000_000_000]) {
      const r = parse({ time });
      assert.equal(r.ok, false, JSON.stringify(time));
      assert.equal(r.ok === false && r.problem, 'time: not an ISO 8601 UTC timestamp');
    }
  });

  it('refuses a forged far-future time (it would skew detection windows), allows clock skew within the documented bound and late delivery', () => {
    const future = (ms: number) => new Date(NOW + ms).toISOString();
    const far = parse({ time: future(MAX_FUTURE_SKEW_MS + 1) });
    assert.equal(far.ok === false && far.problem, 'time: too far in the future');
    assert.equal(parse({ time: '9999-12-31T23:59:59.999Z' }).ok, false);
    assert.equal(parse({ time: future(MAX_FUTURE_SKEW_MS) }).ok, true);
    // A durable backlog or a publish retried after an outage arrives late with its own time.
    assert.equal(parse({ time: new Date(NOW - 7 * 24 * 3600 * 1000).toISOString() }).ok, true);
  });

  it('refuses an instance that is empty, overlong or not printable (CRLF, control, non-ASCII: log and audit injection)', () => {
    for (const instance of ['', 'x'.repeat(257), 'gw-1\r\nforged: line', 'gw 1', 'gw\u0000', 'gw\u202e1', 'gẘ', 42, null]) {
      const r = parse({ instance });
      assert.equal(r.ok === false && r.problem, 'instance: not 1 to 256 printable ASCII characters', JSON.stringify(instance));
    }
    assert.equal(parse({ instance: 'x'.repeat(256) }).ok, true);
    assert.equal(parse({ instance: 'cli-host.example-1234' }).ok, true);
  });

  it('refuses to create a bus whose own instance id every receiver would refuse', () => {
    assert.throws(() => new MemoryEventBus({ instanceId: 'gw\r\n1' }), TypeError);
    assert.throws(() => new MemoryEventBus({ instanceId: '' }), TypeError);
  });
});
