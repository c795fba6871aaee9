/**
 * NATS queues are bounded in bytes as well as in events: 10 000 events of up to 1 MB each
 * (the count cap alone) is 10 GB in one publish buffer or one slow live subscriber's inbox.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { captureLogger, waitFor } from './contract.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const stream = `GH_TEST_BB_${run}`;
const subjectPrefix = `ghtest.bb${run}`;
const MiB = 1024 * 1024;
const big = (i: number) => ({ source: `big-${i}`, problems: [{ path: 'p', message: 'x'.repeat(200_000) }] });

describe('NATS event bus: byte budget of its queues', { skip }, () => {
  const buses: EventBus[] = [];
  const options = { stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000, maxBufferBytes: MiB };

  after(async () => {
    for (const bus of buses) await bus.close();
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try {
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
    } finally {
      await nc.close();
    }
  });

  it('a burst of large events over the publish buffer\'s byte budget (memory exhaustion) is dropped like a full buffer: counted and logged, the rest published', async () => {
    const { logger, lines } = captureLogger();
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'bb-pub', ...options, logger });
    buses.push(bus);
    // Published in one turn: nothing is acknowledged yet, everything is buffered at once.
    for (let i = 0; i < 20; i++) bus.publish('config.rejected', big(i));
    const s = bus.stats();
    assert.ok(s.dropped >= 14, `dropped ${s.dropped} of 20 events of 200 kB over a 1 MiB budget`);
    assert.ok(s.buffered <= 6);
    await bus.flush();
    assert.equal(bus.stats().published, 20 - s.dropped);
    const line = lines.find((l) => l.msg === 'event bus: buffer full; events dropped');
    assert.ok(line, 'the overflow is logged');
    assert.equal(line.queue, 'publish');
    assert.ok(!JSON.stringify(lines).includes('xxxx'), 'the payload is not logged');
    // Room again once published.
    bus.publish('config.rejected', big(99));
    await bus.flush();
    assert.equal(bus.stats().published, 21 - s.dropped);
  });

  it('a slow live subscriber\'s inbox is held to the byte budget: events past it are dropped, counted and logged', async () => {
    const { logger, lines } = captureLogger();
    const sub = await createNatsEventBus(NATS_URL, { instanceId: 'bb-sub', ...options, logger });
    const pub = await createNatsEventBus(NATS_URL, { instanceId: 'bb-pub2', stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 });
    buses.push(sub, pub);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const got: string[] = [];
    sub.subscribe(['config.rejected'], async (e) => {
      await gate;
      got.push((e.payload as { source: string }).source);
    });
    await sub.flush();
    for (let i = 0; i < 20; i++) {
      pub.publish('config.rejected', big(i));
      await pub.flush();
    }
    await waitFor(() => sub.stats().dropped >= 14, 10_000, 'the inbox over its budget to drop');
    assert.ok(sub.stats().buffered <= 6, `buffered ${sub.stats().buffered}`);
    const line = lines.find((l) => l.msg === 'event bus: buffer full; events dropped');
    assert.ok(line, 'the overflow is logged');
    assert.equal(line.queue, 'subscriber');
    release();
    await waitFor(() => got.length === 20 - sub.stats().dropped, 10_000, 'the events kept');
  });
});
