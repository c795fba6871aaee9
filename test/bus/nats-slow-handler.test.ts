/**
 * A durable subscriber's slow but progressing handler on NATS: the events it holds (the one
 * it handles and the rest of the pulled batch) must not outlive JetStream's ack_wait and be
 * redelivered as duplicates; a handler past handlerTimeoutMs must still fail its delivery.
 * The group's consumer is made beforehand with a 2 s ack_wait (Gatehouse uses an existing
 * consumer as it is), so the test runs in seconds rather than past the real 30 s.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import { durableGroupName } from '../../src/bus/durable-name.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { waitFor } from './contract.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const stream = `GH_TEST_SH_${run}`;
const subjectPrefix = `ghtest.sh${run}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('NATS event bus: slow durable handlers', { skip }, () => {
  const buses: EventBus[] = [];
  after(async () => {
    for (const bus of buses) await bus.close();
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try {
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
    } finally {
      await nc.close();
    }
  });

  it('a slow but progressing batch is not redelivered as duplicates (in-progress acks past a fraction of ack_wait), while a handler past handlerTimeoutMs still fails its delivery', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'slow', stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000, handlerTimeoutMs: 3_500 });
    buses.push(bus);
    const durable = `slow-${run}`;
    const group = durableGroupName(durable, ['config.reloaded']);
    const nc = await connect({ servers: new URL(NATS_URL).host });
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add(stream, {
      durable_name: group, ack_policy: AckPolicy.Explicit, filter_subject: `${subjectPrefix}.config.reloaded`,
      ack_wait: 2_000 * 1_000_000, max_deliver: 5, deliver_policy: DeliverPolicy.New, inactive_threshold: 600_000 * 1_000_000,
    });
    const calls: number[] = [];
    let hung = false;
    bus.subscribe(['config.reloaded'], async (e) => {
      const generation = (e.payload as { generation: number }).generation;
      calls.push(generation);
      if (generation === 3 && !hung) {
        hung = true;
        await new Promise<void>(() => {});
      }
      // Each handler is within handlerTimeoutMs but longer than ack_wait: progressing, slowly.
      if (generation !== 3) await sleep(2_500);
    }, { durable });
    await bus.flush();
    // One batch: 2 and 3 wait in the client while 1 is handled.
    for (let g = 1; g <= 3; g++) bus.publish('config.reloaded', { generation: g, source: 'signal', routes: 0, changedKeys: [] });
    await bus.flush();
    await waitFor(() => calls.filter((g) => g === 3).length === 2, 30_000, 'the timed-out event redelivered');
    await sleep(500);
    assert.deepEqual(calls.filter((g) => g !== 3), [1, 2], 'the slow events were each handled once');
    assert.equal(bus.stats().handlerTimeouts, 1, 'the hung handler still failed its delivery');
    assert.deepEqual(calls, [1, 2, 3, 3], 'only the timed-out event was delivered again');
    await waitFor(() => bus.stats().buffered === 0, 5_000, 'settled');
    const info = await jsm.consumers.info(stream, group);
    await nc.close();
    assert.equal(info.num_ack_pending, 0, 'everything acknowledged');
  });
});
