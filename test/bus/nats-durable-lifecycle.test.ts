/**
 * A durable subscription's life on NATS beyond the contract: one ended before it attached,
 * and a poison event that fails every delivery.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import type { Envelope } from '../../src/core/events.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { waitFor } from './contract.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const stream = `GH_TEST_DL_${run}`;
const subjectPrefix = `ghtest.dl${run}`;

describe('NATS event bus: durable subscription lifecycle', { skip }, () => {
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

  it('a durable subscription ended before it attached (subscribe then unsubscribe at once) does not hold back every later publish: events still reach the stream and flush settles', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'short-lived', stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 });
    buses.push(bus);
    const got: Envelope[] = [];
    bus.subscribe(['config.reloaded'], (e) => {
      got.push(e);
    });
    await bus.flush();
    const unsubscribe = bus.subscribe(['config.reloaded'], () => {}, { durable: `gone-${run}` });
    unsubscribe();
    bus.publish('config.reloaded', { generation: 1, source: 'signal', routes: 0, changedKeys: [] });
    await bus.flush(5_000);
    await waitFor(() => got.length === 1, 10_000, 'the event published after the short-lived subscription');
    assert.equal(bus.stats().buffered, 0);
  });
});
