/**
 * A durable subscription's life on NATS beyond the contract: one ended before it attached,
 * and a poison event that fails every delivery.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import { durableGroupName } from '../../src/bus/durable-name.ts';
import type { Envelope } from '../../src/core/events.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { captureLogger, waitFor } from './contract.ts';

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

  it('a poison event whose handler fails every delivery is given up after the last one, and that is reported: logged as given up with its name and id (never the payload), counted in dropped; later events flow', async () => {
    const { logger, lines } = captureLogger();
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'poison', stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000, logger });
    buses.push(bus);
    const attempts: number[] = [];
    const handled: number[] = [];
    bus.subscribe(['config.reloaded'], (e) => {
      const generation = (e.payload as { generation: number }).generation;
      if (generation === 1) {
        attempts.push(generation);
        throw new Error('audit store refuses this event');
      }
      handled.push(generation);
    }, { durable: `poison-${run}` });
    await bus.flush();
    const droppedBefore = bus.stats().dropped;
    bus.publish('config.reloaded', { generation: 1, source: 'poison-secret', routes: 0, changedKeys: [] });
    bus.publish('config.reloaded', { generation: 2, source: 'signal', routes: 0, changedKeys: [] });
    await bus.flush();
    await waitFor(() => handled.includes(2), 10_000, 'the event after the poison one');
    const givenUp = () => lines.find((l) => l.msg === 'event bus: event given up after its last delivery failed');
    await waitFor(() => givenUp() !== undefined, 20_000, 'the give-up to be logged');
    const line = givenUp() as Record<string, unknown>;
    assert.equal(line.event, 'config.reloaded');
    assert.match(String(line.eventId), /^[0-9a-f-]{36}$/);
    assert.equal(line.deliveries, 5);
    assert.equal(attempts.length, 5);
    assert.equal(bus.stats().dropped, droppedBefore + 1);
    assert.ok(!JSON.stringify(lines).includes('poison-secret'), 'the payload is not logged');
  });
  it('close lets a durable handler in progress finish and acknowledges its event: not counted as a handler failure, not redelivered to another instance', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'closing-durable', stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 });
    const durable = `closing-${run}`;
    let started = false;
    let finished = false;
    bus.subscribe(['config.reloaded'], async () => {
      started = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
      finished = true;
    }, { durable });
    await bus.flush();
    bus.publish('config.reloaded', { generation: 1, source: 'signal', routes: 0, changedKeys: [] });
    await bus.flush();
    await waitFor(() => started, 10_000, 'the handler to start');
    await bus.close();
    await waitFor(() => finished, 10_000, 'the handler to finish');
    assert.equal(bus.stats().handlerErrors, 0);
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.consumers.info(stream, durableGroupName(durable, ['config.reloaded']));
      assert.equal(info.num_ack_pending, 0, 'acknowledged, not left for redelivery');
      assert.equal(info.ack_floor.stream_seq, info.delivered.stream_seq);
    } finally {
      await nc.close();
    }
  });
  it('events published while a new durable subscription could not attach yet (a conflicting consumer the operator then deletes, as the error tells them) are delivered once it attaches, not skipped', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'late-attach', stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 });
    buses.push(bus);
    const durable = `late-${run}`;
    const group = durableGroupName(durable, ['config.reloaded']);
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try {
      const jsm = await jetstreamManager(nc);
      // Same name, another filter: refused with ERR_BUS_UNAVAILABLE until deleted.
      await jsm.consumers.add(stream, { durable_name: group, ack_policy: AckPolicy.Explicit, filter_subject: `${subjectPrefix}.config.rejected` });
      const got: number[] = [];
      bus.subscribe(['config.reloaded'], (e) => {
        got.push((e.payload as { generation: number }).generation);
      }, { durable });
      await bus.flush();
      for (let i = 1; i <= 3; i++) bus.publish('config.reloaded', { generation: i, source: 'signal', routes: 0, changedKeys: [] });
      await bus.flush();
      await jsm.consumers.delete(stream, group);
      await waitFor(() => got.length === 3, 20_000, 'the events published before it attached');
      assert.deepEqual(got, [1, 2, 3]);
    } finally {
      await nc.close();
    }
  });
  it('health is not ok while JetStream refuses every publish although the server answers (stream full with discard new): events pile up and are dropped, /readyz must say so', async () => {
    const fullStream = `GH_TEST_FULL_${run}`;
    const fullPrefix = `ghtest.full${run}`;
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: fullStream, subjects: [`${fullPrefix}.>`], max_msgs: 1, discard: DiscardPolicy.New, duplicate_window: 60_000_000_000, max_age: 600_000_000_000 });
      const bus = await createNatsEventBus(NATS_URL, { instanceId: 'full', stream: fullStream, subjectPrefix: fullPrefix });
      buses.push(bus);
      assert.equal((await bus.health()).ok, true);
      bus.publish('config.reloaded', { generation: 1, source: 'signal', routes: 0, changedKeys: [] });
      bus.publish('config.reloaded', { generation: 2, source: 'signal', routes: 0, changedKeys: [] });
      await waitFor(() => bus.stats().publishFailures > 0, 10_000, 'a refused publish');
      const health = await bus.health();
      assert.equal(health.ok, false, health.detail);
      assert.match(String(health.detail), /publish/);
      await jsm.streams.purge(fullStream);
      await bus.flush();
      assert.equal((await bus.health()).ok, true, 'healthy again once events are stored');
    } finally {
      await (await jetstreamManager(nc)).streams.delete(fullStream).catch(() => {});
      await nc.close();
    }
  });
});
