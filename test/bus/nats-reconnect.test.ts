/**
 * NATS-only behaviour the shared contract cannot express: surviving a broken connection,
 * redelivery to durable subscribers whose handler failed, and hostile messages on the
 * stream's subjects. A TCP relay between the bus and NATS stands in for the network, so
 * the real server is never restarted.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import { durableGroupName } from '../../src/bus/durable-name.ts';
import type { EventBus } from '../../src/bus/types.ts';
import type { Envelope, GatewayRequestEvent } from '../../src/core/events.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { captureLogger, requestEvent, waitFor } from './contract.ts';
import { TcpRelay } from './tcp-relay.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const stream = `GH_TEST_RC_${run}`;
const subjectPrefix = `ghtest.rc${run}`;
const target = new URL(NATS_URL);

describe('NATS event bus: failures', { skip }, () => {
  const buses: EventBus[] = [];
  const relay = new TcpRelay(target.hostname, Number(target.port || 4222));
  const options = { stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 };

  after(async () => {
    for (const bus of buses) await bus.close();
    await relay.cut().catch(() => {});
    const nc = await connect({ servers: target.host });
    try {
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
    } finally {
      await nc.close();
    }
  });

  it('keeps events published during a connection loss and delivers them after reconnecting', async () => {
    await relay.start();
    const publisher = await createNatsEventBus(`nats://127.0.0.1:${relay.port}`, { instanceId: 'flaky', ...options });
    buses.push(publisher);
    const direct = await createNatsEventBus(NATS_URL, { instanceId: 'direct', ...options });
    buses.push(direct);
    const seen: string[] = [];
    direct.subscribe(['gateway.request'], (e) => {
      seen.push((e.payload as GatewayRequestEvent).requestId);
    }, { durable: `rc-${run}` });
    await direct.flush();

    publisher.publish('gateway.request', requestEvent(0));
    await publisher.flush();
    await relay.cut();
    for (let i = 1; i <= 10; i++) assert.doesNotThrow(() => publisher.publish('gateway.request', requestEvent(i)));
    const during = await publisher.health();
    assert.equal(during.ok, false, 'health reports the outage');
    assert.ok(publisher.stats().buffered >= 10, 'events are buffered, not lost');

    await relay.restore();
    await publisher.flush(20_000);
    await waitFor(() => seen.length >= 11, 20_000, 'events after reconnect');
    assert.deepEqual([...new Set(seen)].sort(), Array.from({ length: 11 }, (_, i) => `req-${i}`).sort());
    assert.equal(seen.length, new Set(seen).size, 'retried publishes are not stored twice');
    assert.equal((await publisher.health()).ok, true);
    console.log(`# reconnect: ${publisher.stats().publishFailures} failed publish attempts retried, ${publisher.stats().dropped} dropped`);
  });

  it('starts with bus.maxAgeMs at its configured minimum (60 s), shorter than the duplicate window, and delivers', async () => {
    const shortStream = `${stream}_SHORT`;
    const shortPrefix = `${subjectPrefix}short`;
    try {
      const bus = await createNatsEventBus(NATS_URL, { instanceId: 'short-age', stream: shortStream, subjectPrefix: shortPrefix, maxAgeMs: 60_000 });
      buses.push(bus);
      const seen: string[] = [];
      bus.subscribe(['gateway.request'], (e) => {
        seen.push((e.payload as GatewayRequestEvent).requestId);
      }, { durable: `short-${run}` });
      await bus.flush();
      bus.publish('gateway.request', requestEvent(1));
      await waitFor(() => seen.length === 1, 10_000, 'the event');
      assert.deepEqual(seen, ['req-1']);
    } finally {
      const nc = await connect({ servers: target.host });
      await (await jetstreamManager(nc)).streams.delete(shortStream).catch(() => {});
      await nc.close();
    }
  });

  it('redelivers an event to a durable subscriber whose handler failed (at least once)', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'retry', ...options });
    buses.push(bus);
    let attempts = 0;
    let handled = false;
    bus.subscribe(['config.reloaded'], () => {
      attempts += 1;
      if (attempts < 2) throw new Error('transient failure');
      handled = true;
    }, { durable: `retry-${run}` });
    await bus.flush();
    bus.publish('config.reloaded', { generation: 1, source: 'test', routes: 0, changedKeys: [] });
    await waitFor(() => handled, 15_000, 'redelivery');
    assert.equal(attempts, 2);
  });

  it('a durable consumer deleted under a running subscriber (server inactivity removal, an operator) is re-created, and the events published meanwhile are delivered', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'deleted', ...options });
    buses.push(bus);
    const durable = `gone-${run}`;
    const seen: string[] = [];
    bus.subscribe(['gateway.request'], (e) => {
      seen.push((e.payload as GatewayRequestEvent).requestId);
    }, { durable });
    await bus.flush();
    bus.publish('gateway.request', requestEvent(0));
    await waitFor(() => seen.length === 1, 10_000, 'the first event');
    const nc = await connect({ servers: target.host });
    try {
      await (await jetstreamManager(nc)).consumers.delete(stream, durableGroupName(durable, ['gateway.request']));
    } finally {
      await nc.close();
    }
    for (let i = 1; i <= 3; i++) bus.publish('gateway.request', requestEvent(i));
    await bus.flush();
    await waitFor(() => seen.length >= 4, 20_000, 'the events published after the consumer was deleted').catch(() => {});
    assert.deepEqual([...new Set(seen)].sort(), ['req-0', 'req-1', 'req-2', 'req-3']);
  });

  it('an event larger than the server\'s max_payload is dropped and counted, not retried forever ahead of every later event', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'oversized', ...options });
    buses.push(bus);
    const seen: string[] = [];
    bus.subscribe(['gateway.request'], (e) => {
      seen.push((e.payload as GatewayRequestEvent).requestId);
    });
    await bus.flush();
    bus.publish('config.rejected', { source: 'file', problems: [{ path: 'routes', message: 'x'.repeat(2 * 1024 * 1024) }] });
    for (let i = 0; i < 3; i++) bus.publish('gateway.request', requestEvent(i));
    await bus.flush(5_000);
    await waitFor(() => seen.length === 3, 10_000, 'the events published after the oversized one');
    assert.equal(bus.stats().dropped, 1);
    assert.equal(bus.stats().buffered, 0);
  });

  it('an event over the stream\'s own message size limit is dropped and counted, not retried forever', async () => {
    const limited = `${stream}_LIMITED`;
    const limitedPrefix = `${subjectPrefix}limited`;
    const nc = await connect({ servers: target.host });
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({ name: limited, subjects: [`${limitedPrefix}.>`], max_msg_size: 4096 });
      const bus = await createNatsEventBus(NATS_URL, { instanceId: 'limited', stream: limited, subjectPrefix: limitedPrefix });
      buses.push(bus);
      bus.publish('config.rejected', { source: 'file', problems: [{ path: 'routes', message: 'x'.repeat(8192) }] });
      bus.publish('gateway.request', requestEvent(1));
      await bus.flush(5_000);
      assert.equal(bus.stats().dropped, 1);
      assert.equal(bus.stats().published, 1);
    } finally {
      await jsm.streams.delete(limited).catch(() => {});
      await nc.close();
    }
  });

  it('a live subscriber never gets an event it did not ask for from a message whose envelope names another event than its subject', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'mismatch', ...options });
    buses.push(bus);
    const seen: Envelope[] = [];
    bus.subscribe(['config.reloaded'], (e) => {
      seen.push(e);
    });
    await bus.flush();
    const nc = await connect({ servers: target.host });
    const forged = { id: '01a2023b-befd-7f98-918b-f826a8ef68fc', time: new Date().toISOString(), instance: 'x', name: 'detect.block.lifted', payload: { blockId: 'b1', liftedBy: 'attacker' } };
    nc.publish(`${subjectPrefix}.config.reloaded`, JSON.stringify(forged));
    await nc.flush();
    await nc.close();
    bus.publish('config.reloaded', { generation: 7, source: 'test', routes: 0, changedKeys: [] });
    await waitFor(() => seen.some((e) => e.name === 'config.reloaded'), 10_000, 'the genuine event');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(seen.map((e) => e.name), ['config.reloaded']);
  });

  it('a stream lost under running instances (NATS restarted without persistent storage, an operator) is made again: events flow and health recovers', async () => {
    const lostStream = `${stream}_LOST`;
    const lostPrefix = `${subjectPrefix}lost`;
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'lost', stream: lostStream, subjectPrefix: lostPrefix, maxAgeMs: 10 * 60 * 1000 });
    buses.push(bus);
    const seen: string[] = [];
    bus.subscribe(['gateway.request'], (e) => {
      seen.push((e.payload as GatewayRequestEvent).requestId);
    }, { durable: `lost-${run}` });
    await bus.flush();
    const nc = await connect({ servers: target.host });
    try {
      await (await jetstreamManager(nc)).streams.delete(lostStream);
      for (let i = 1; i <= 3; i++) bus.publish('gateway.request', requestEvent(i));
      await bus.flush(20_000);
      await waitFor(() => seen.length >= 3, 20_000, 'the events published after the stream was lost').catch(() => {});
      assert.deepEqual([...new Set(seen)].sort(), ['req-1', 'req-2', 'req-3']);
      assert.equal((await bus.health()).ok, true);
    } finally {
      await (await jetstreamManager(nc)).streams.delete(lostStream).catch(() => {});
      await nc.close();
    }
  });

  it('an event redelivered to a durable subscriber after its handler threw arrives after events published later (the documented ordering, not publication order)', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'order', ...options });
    buses.push(bus);
    const handled: number[] = [];
    let thrown = false;
    bus.subscribe(['config.reloaded'], (e) => {
      const generation = (e.payload as { generation: number }).generation;
      if (generation === 1 && !thrown) {
        thrown = true;
        throw new Error('transient');
      }
      handled.push(generation);
    }, { durable: `order-${run}` });
    await bus.flush();
    for (let g = 1; g <= 3; g++) bus.publish('config.reloaded', { generation: g, source: 'signal', routes: 0, changedKeys: [] });
    await bus.flush();
    await waitFor(() => handled.length === 3, 10_000, 'the redelivery');
    assert.deepEqual(handled, [2, 3, 1]);
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'events.md'), 'utf8');
    assert.ok(!doc.includes('in publication order per publisher. A slow'), 'docs/events.md does not promise publication order to durable subscribers');
    assert.match(doc, /redelivered[^.]*arrives after/);
  });

  it('a forged envelope with a far-future or non-ISO time, or a CRLF or overlong instance, never reaches a durable subscriber: terminated, counted, logged without the payload', async () => {
    const { logger, lines } = captureLogger();
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'times', ...options, logger });
    buses.push(bus);
    const durable = `times-${run}`;
    const seen: unknown[] = [];
    bus.subscribe(['detect.block.lifted'], (e) => {
      seen.push(e.payload);
    }, { durable });
    await bus.flush();
    const nc = await connect({ servers: target.host });
    const payload = { blockId: 'b1', kind: 'subject', value: 'forged-secret', liftedBy: 'attacker' };
    const envelope = (fields: Record<string, unknown>) => JSON.stringify({ id: `01a2023b-befd-7f98-918b-f826a8ef6${Math.floor(Math.random() * 900) + 100}`, time: new Date().toISOString(), instance: 'x', name: 'detect.block.lifted', payload, ...fields });
    const subject = `${subjectPrefix}.detect.block.lifted`;
    nc.publish(subject, envelope({ time: '9999-12-31T23:59:59.999Z' }));
    nc.publish(subject, envelope({ time: 'Dec 31 9999' }));
    nc.publish(subject, envelope({ instance: 'gw-1\r\nforged: line' }));
    nc.publish(subject, envelope({ instance: 'x'.repeat(100_000) }));
    await nc.flush();
    bus.publish('detect.block.lifted', { blockId: 'b3', kind: 'subject', value: 'carol', liftedBy: 'admin:x' });
    await bus.flush();
    await waitFor(() => seen.length === 1, 10_000, 'the genuine event');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.deepEqual(seen, [{ blockId: 'b3', kind: 'subject', value: 'carol', liftedBy: 'admin:x' }]);
    assert.equal(bus.stats().malformed, 4);
    assert.deepEqual(lines.filter((l) => l.code === 'ERR_BUS_EVENT_INVALID').map((l) => l.problem), [
      'time: too far in the future', 'time: not an ISO 8601 UTC timestamp', 'instance: not 1 to 256 printable ASCII characters', 'instance: not 1 to 256 printable ASCII characters',
    ]);
    assert.ok(!JSON.stringify(lines).includes('forged'), 'the payload and instance are not logged');
    const info = await (await jetstreamManager(nc)).consumers.info(stream, durableGroupName(durable, ['detect.block.lifted']));
    await nc.close();
    assert.equal(info.num_ack_pending, 0, 'nothing left to redeliver');
    assert.equal(info.num_redelivered, 0);
  });

  it('a forged, well-formed envelope whose payload has the wrong shape never reaches a durable subscriber: terminated (not redelivered), counted, and later events flow', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'shapes', ...options });
    buses.push(bus);
    const durable = `shapes-${run}`;
    const seen: unknown[] = [];
    bus.subscribe(['detect.block.lifted'], (e) => {
      seen.push(e.payload);
    }, { durable });
    await bus.flush();
    const nc = await connect({ servers: target.host });
    const envelope = (payload: unknown) => JSON.stringify({ id: '01a2023b-befd-7f98-918b-f826a8ef68fc'.replace('8fc', `${Math.floor(Math.random() * 900) + 100}`), time: new Date().toISOString(), instance: 'x', name: 'detect.block.lifted', payload });
    const subject = `${subjectPrefix}.detect.block.lifted`;
    nc.publish(subject, envelope({ blockId: 'b1', kind: 'address', value: 42, liftedBy: 'admin:x' }));
    nc.publish(subject, envelope({ blockId: 'b2', liftedBy: 'attacker' }));
    await nc.flush();
    bus.publish('detect.block.lifted', { blockId: 'b3', kind: 'subject', value: 'carol', liftedBy: 'admin:x' });
    await bus.flush();
    await waitFor(() => seen.length === 1, 10_000, 'the genuine event');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.deepEqual(seen, [{ blockId: 'b3', kind: 'subject', value: 'carol', liftedBy: 'admin:x' }]);
    assert.equal(bus.stats().malformed, 2);
    const info = await (await jetstreamManager(nc)).consumers.info(stream, durableGroupName(durable, ['detect.block.lifted']));
    await nc.close();
    assert.equal(info.num_ack_pending, 0, 'nothing left to redeliver');
    assert.equal(info.num_redelivered, 0);
  });

  it('discards a forged message on an event subject that is not a valid envelope, and keeps delivering', async () => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: 'forgery', ...options });
    buses.push(bus);
    const seen: unknown[] = [];
    bus.subscribe('*', (e) => {
      seen.push(e.payload);
    });
    await bus.flush();
    const nc = await connect({ servers: target.host });
    nc.publish(`${subjectPrefix}.gateway.request`, '{"__proto__":{"polluted":true},"name":"gateway.request"}');
    nc.publish(`${subjectPrefix}.gateway.request`, 'not json');
    nc.publish(`${subjectPrefix}.nope`, JSON.stringify({ id: '01a2023b-befd-7f98-918b-f826a8ef68fc', time: new Date().toISOString(), instance: 'x', name: 'no.such.event', payload: {} }));
    await nc.flush();
    await nc.close();
    bus.publish('gateway.request', requestEvent(42));
    await waitFor(() => seen.length >= 1, 10_000, 'the genuine event');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(seen.length, 1);
    assert.equal((seen[0] as GatewayRequestEvent).requestId, 'req-42');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
