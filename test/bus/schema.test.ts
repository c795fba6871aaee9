import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { busSchema } from '../../src/core/config/bus-schema.ts';

describe('bus config schema', () => {
  it('defaults to the in-process bus', () => {
    assert.deepEqual(busSchema.parse({}), { url: 'memory:', stream: 'GATEHOUSE', subjectPrefix: 'gatehouse', maxAgeMs: 604_800_000, maxBuffer: 10_000, maxBufferBytes: 67_108_864, handlerTimeoutMs: 10_000, maxEventBytes: 1_000_000 });
  });

  it('accepts nats:// and tls:// URLs and refuses others', () => {
    assert.equal(busSchema.safeParse({ url: 'nats://nats.internal:4222' }).success, true);
    assert.equal(busSchema.safeParse({ url: 'tls://nats.internal:4222' }).success, true);
    assert.equal(busSchema.safeParse({ url: 'redis://x:6379' }).success, false);
    assert.equal(busSchema.safeParse({ url: 'memory' }).success, false);
  });

  it('refuses subject prefixes and stream names with NATS wildcards (subject injection)', () => {
    assert.equal(busSchema.safeParse({ subjectPrefix: 'gatehouse.>' }).success, false);
    assert.equal(busSchema.safeParse({ subjectPrefix: '*' }).success, false);
    assert.equal(busSchema.safeParse({ stream: 'GATE.HOUSE' }).success, false);
  });

  it('bounds the bytes of buffered events (maxBufferBytes), not only their count', () => {
    assert.equal(busSchema.safeParse({ maxBufferBytes: 1_048_576 }).success, true);
    assert.equal(busSchema.safeParse({ maxBufferBytes: 1_000 }).success, false);
    assert.equal(busSchema.safeParse({ maxBufferBytes: 1_500_000.5 }).success, false);
  });

  it('takes handlerTimeoutMs and maxEventBytes within the bus\'s own bounds (a handler timeout past JetStream\'s ack_wait is refused)', () => {
    assert.equal(busSchema.safeParse({ handlerTimeoutMs: 25_000 }).success, true);
    assert.equal(busSchema.safeParse({ handlerTimeoutMs: 25_001 }).success, false);
    assert.equal(busSchema.safeParse({ handlerTimeoutMs: 0 }).success, false);
    assert.equal(busSchema.safeParse({ maxEventBytes: 1_023 }).success, false);
    assert.equal(busSchema.safeParse({ maxEventBytes: 4_096 }).success, true);
    assert.equal(busSchema.safeParse({ maxEventBytes: 64 * 1024 * 1024 + 1 }).success, false);
  });
});
