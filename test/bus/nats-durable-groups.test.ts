/**
 * Durable groups on NATS when members of one durable name ask for different events (an
 * upgrade): the new filter's group takes over where the old one left off, an abandoned group
 * is removed by the server, and a consumer this member may not share is left alone.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import { durableGroupName } from '../../src/bus/durable-name.ts';
import type { EventBus } from '../../src/bus/types.ts';
import type { Envelope } from '../../src/core/events.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { waitFor } from './contract.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const stream = `GH_TEST_DG_${run}`;
const subjectPrefix = `ghtest.dg${run}`;
const options = { stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `config.reloaded` events carry their number as `generation`, `config.rejected` ones as `source`. */
const label = (e: Envelope): string => e.name === 'config.reloaded' ? `reloaded-${(e.payload as { generation: number }).generation}` : `rejected-${(e.payload as { source: string }).source}`;
const reloaded = (bus: EventBus, i: number) => bus.publish('config.reloaded', { generation: i, source: 'signal', routes: 1, changedKeys: [] });
const rejected = (bus: EventBus, i: number) => bus.publish('config.rejected', { source: String(i), problems: [] });

async function consumerExists(jsm: JetStreamManager, streamName: string, name: string): Promise<boolean> {
  try {
    await jsm.consumers.info(streamName, name);
    return true;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === 10014) return false;
    throw error;
  }
}

describe('NATS event bus: durable groups across filter changes', { skip }, () => {
  const buses: EventBus[] = [];
  const streams = [stream];
  const open = async (instanceId: string, extra: Partial<Parameters<typeof createNatsEventBus>[1]> = {}) => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId, ...options, ...extra });
    buses.push(bus);
    return bus;
  };
  const manager = async () => {
    const nc = await connect({ servers: new URL(NATS_URL).host });
    return { nc, jsm: await jetstreamManager(nc) };
  };

  after(async () => {
    for (const bus of buses) await bus.close();
    const { nc, jsm } = await manager();
    try {
      for (const s of streams) await jsm.streams.delete(s).catch(() => {});
    } finally {
      await nc.close();
    }
  });

  it('an upgrade by stop and start with one more event name loses none of the events published while no instance ran', async () => {
    const durable = `stopstart-${run}`;
    const older = await open('older-version');
    const byOlder: string[] = [];
    older.subscribe(['config.reloaded'], (e) => {
      byOlder.push(label(e));
    }, { durable });
    await older.flush();
    reloaded(older, 0);
    await older.flush();
    await waitFor(() => byOlder.length === 1, 10_000, 'the first event');
    await older.close();

    const publisher = await open('publisher');
    for (let i = 1; i <= 5; i++) {
      reloaded(publisher, i);
      rejected(publisher, i);
    }
    await publisher.flush();

    const newer = await open('newer-version');
    const byNewer: string[] = [];
    newer.subscribe(['config.reloaded', 'config.rejected'], (e) => {
      byNewer.push(label(e));
    }, { durable });
    await waitFor(() => byNewer.length >= 10, 10_000, 'the events published while away').catch(() => {});
    await sleep(300);
    const expected = Array.from({ length: 5 }, (_, i) => [`reloaded-${i + 1}`, `rejected-${i + 1}`]).flat();
    assert.deepEqual([...byNewer].sort(), expected.sort());
  });

  it('a rolling upgrade loses none of the events the last instance of the older version had not handled when it stopped', async () => {
    const durable = `rolling-${run}`;
    const older = await open('older-version');
    const newer = await open('newer-version');
    const publisher = await open('publisher');
    let release: () => void = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const byOlder: string[] = [];
    const stopOlder = older.subscribe(['config.reloaded'], async (e) => {
      byOlder.push(label(e));
      await stuck;
    }, { durable });
    await older.flush();
    for (let i = 0; i < 5; i++) reloaded(publisher, i);
    await publisher.flush();
    // The older version is busy with the first event; the others wait for it.
    await waitFor(() => byOlder.length === 1, 10_000, 'the older version to start');

    const byNewer: string[] = [];
    newer.subscribe(['config.reloaded', 'config.rejected'], (e) => {
      byNewer.push(label(e));
    }, { durable });
    await newer.flush();
    for (let i = 5; i < 10; i++) reloaded(publisher, i);
    await publisher.flush();
    stopOlder();
    release();

    const all = Array.from({ length: 10 }, (_, i) => `reloaded-${i}`);
    await waitFor(() => all.every((e) => byOlder.includes(e) || byNewer.includes(e)), 15_000, 'every event handled by one version or the other').catch(() => {});
    await sleep(300);
    assert.deepEqual([...new Set([...byOlder, ...byNewer])].sort(), all.sort(), 'no event lost');
    assert.equal(byNewer.length, new Set(byNewer).size, 'the newer version got each event once');
  });

  it('an upgrade from a version that named the consumer after the durable alone takes over where it stopped, and leaves it removable', async () => {
    const durable = `legacy-${run}`;
    const publisher = await open('publisher');
    const { nc, jsm } = await manager();
    try {
      // What versions before groups made: one consumer for every filter, no inactivity limit.
      await jsm.consumers.add(stream, {
        durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, filter_subject: `${subjectPrefix}.>`,
        ack_wait: 30_000_000_000, max_deliver: 5,
      });
      for (let i = 1; i <= 3; i++) reloaded(publisher, i);
      await publisher.flush();
      const newer = await open('newer-version');
      const byNewer: string[] = [];
      newer.subscribe(['config.reloaded', 'config.rejected'], (e) => {
        byNewer.push(label(e));
      }, { durable });
      await waitFor(() => byNewer.length >= 3, 10_000, 'the events waiting for the old consumer').catch(() => {});
      await sleep(300);
      assert.deepEqual(byNewer.sort(), ['reloaded-1', 'reloaded-2', 'reloaded-3']);
      const legacy = await jsm.consumers.info(stream, durable);
      assert.equal(legacy.config.inactive_threshold, options.maxAgeMs * 1_000_000, 'the old consumer goes once nobody pulls from it');
      assert.equal(legacy.config.filter_subject, `${subjectPrefix}.>`, 'and is otherwise unchanged');
    } finally {
      await nc.close();
    }
  });

  it('a durable group nobody pulls from any more is removed by the server after the stream\'s max age, and kept while in use', async () => {
    const shortStream = `${stream}_SHORT`;
    streams.push(shortStream);
    const bus = await open('short-lived', { stream: shortStream, subjectPrefix: `${subjectPrefix}short`, maxAgeMs: 2_000 });
    const durable = `abandoned-${run}`;
    const group = durableGroupName(durable, ['config.reloaded']);
    const unsubscribe = bus.subscribe(['config.reloaded'], () => {}, { durable });
    await bus.flush();
    const { nc, jsm } = await manager();
    try {
      assert.equal((await jsm.consumers.info(shortStream, group)).config.inactive_threshold, 2_000 * 1_000_000);
      await sleep(4_000);
      assert.equal(await consumerExists(jsm, shortStream, group), true, 'kept while its member pulls');
      unsubscribe();
      const deadline = Date.now() + 15_000;
      while (await consumerExists(jsm, shortStream, group)) {
        assert.ok(Date.now() < deadline, 'the abandoned group was not removed');
        await sleep(250);
      }
    } finally {
      await nc.close();
    }
  });

  it('a consumer named after its group but made with another filter (by hand, or an older version) is refused with ERR_BUS_UNAVAILABLE and left unchanged, its events unacknowledged', async () => {
    const durable = `foreign-${run}`;
    const group = durableGroupName(durable, ['config.reloaded']);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(line); } });
    const bus = await open('member', { logger });
    const { nc, jsm } = await manager();
    try {
      await jsm.consumers.add(stream, {
        durable_name: group, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, filter_subject: `${subjectPrefix}.>`,
      });
      const seen: string[] = [];
      bus.subscribe(['config.reloaded'], (e) => {
        seen.push(label(e));
      }, { durable });
      await bus.flush();
      reloaded(bus, 1);
      rejected(bus, 1);
      await bus.flush();
      await waitFor(() => lines.some((l) => l.includes('ERR_BUS_UNAVAILABLE') && l.includes(group)), 10_000, 'the refusal in the log');
      await sleep(300);
      const info = await jsm.consumers.info(stream, group);
      assert.equal(info.config.filter_subject, `${subjectPrefix}.>`, 'filter unchanged');
      assert.equal(info.num_pending, 2, 'both events still wait for the consumer\'s own members');
      assert.deepEqual(seen, []);
      assert.equal(JSON.parse(lines.find((l) => l.includes('ERR_BUS_UNAVAILABLE')) ?? '{}').level, 50, 'logged as an error');
    } finally {
      await nc.close();
    }
  });
});
