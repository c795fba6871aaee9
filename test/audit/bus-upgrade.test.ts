/**
 * A rolling upgrade of a multi-instance deployment (NATS + PostgreSQL) in which the newer
 * version's audit subscription asks for one more event name: subscribed as the audit
 * extension does (durable `audit`, drafts appended with `mayDuplicate`), every event reaches
 * the log exactly once — none lost to the other version's subscription, none stored twice
 * although the events both versions want are delivered to both during the switch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import type { EventName } from '../../src/core/events.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { waitFor } from '../bus/contract.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { postgresBackend, type TestDatabase } from './support/backends.ts';

const pgBackend = await postgresBackend();
const skip = (await serviceOrSkip('nats')) || pgBackend.skip;
const run = randomBytes(4).toString('hex');
const busOptions = { stream: `GH_TEST_AU_${run}`, subjectPrefix: `ghtest.au${run}`, maxAgeMs: 10 * 60 * 1000 };
const redactor = createRedactor();

interface Instance { bus: EventBus; writer: AuditWriter; handled: Set<string>; stop: () => void }

describe('audit log across a rolling upgrade that changes the audited events (NATS, PostgreSQL)', { skip }, () => {
  let db: TestDatabase;
  let store: Store;
  const buses: EventBus[] = [];
  before(async () => { db = await pgBackend.create(); store = await db.open(); });
  after(async () => {
    for (const bus of buses) await bus.close();
    await store?.close();
    await db?.drop();
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try { await (await jetstreamManager(nc)).streams.delete(busOptions.stream).catch(() => {}); } finally { await nc.close(); }
  });

  const start = async (instance: string, names: EventName[]): Promise<Instance> => {
    const bus = await createNatsEventBus(NATS_URL, { instanceId: instance, ...busOptions });
    buses.push(bus);
    const writer = AuditWriter.open({ store, chain: 'main', instance, spoolDir: join(db.dir, `spool-${instance}`), batchMaxDelayMs: 10 });
    const handled = new Set<string>();
    const unsubscribe = bus.subscribe(names, (event) => {
      writer.append(draftFromEnvelope(event, redactor), true);
      handled.add(event.id);
    }, { durable: 'audit' });
    await bus.flush();
    return { bus, writer, handled, stop: unsubscribe };
  };

  it('stores every event exactly once, including those published while both versions ran and after the older one stopped', async () => {
    // Publishes from its own instance and learns the event ids from a live subscription.
    const publisher = await createNatsEventBus(NATS_URL, { instanceId: 'publisher', ...busOptions });
    buses.push(publisher);
    const published: string[] = [];
    publisher.subscribe(['config.reloaded', 'ratelimit.exceeded', 'config.rejected'], (e) => { published.push(e.id); });
    await publisher.flush();
    const publish = async (phase: number, withRejected: boolean, total: number) => {
      for (let i = 0; i < 5; i++) {
        publisher.publish('config.reloaded', { generation: phase * 10 + i, source: 'signal', routes: 1, changedKeys: [] });
        publisher.publish('ratelimit.exceeded', { scope: 'edge', policy: 'edge', requestId: `r-${phase}-${i}`, clientAddress: '192.0.2.1', limit: 10, retryAfterMs: 100 });
        if (withRejected) publisher.publish('config.rejected', { source: `phase-${phase}-${i}`, problems: [] });
      }
      await publisher.flush();
      await waitFor(() => published.length === total, 15_000, `phase ${phase} published`);
    };

    const older = await start('older', ['config.reloaded', 'ratelimit.exceeded']);
    await publish(1, false, 10);
    await waitFor(() => older.handled.size === 10, 15_000, 'phase 1 handled by the older version');

    const newer = await start('newer', ['config.reloaded', 'ratelimit.exceeded', 'config.rejected']);
    await publish(2, true, 25);
    await waitFor(() => older.handled.size === 20 && published.slice(10).every((id) => newer.handled.has(id)), 15_000, 'phase 2 handled by both versions').catch(() => {});

    // The last older instance leaves; the newer version carries on alone.
    older.stop();
    await older.writer.close();
    await publish(3, true, 40);
    // Judged below on what the store holds.
    await waitFor(() => published.every((id) => older.handled.has(id) || newer.handled.has(id)), 15_000, 'every event handled').catch(() => {});
    await newer.writer.flush();
    await newer.writer.close();

    const stored = (await createAuditRepo(store.db, store.dialect).page('main', 0, 1_000)).map((r) => r.eventId);
    assert.equal(stored.length, new Set(stored).size, 'no event stored twice');
    assert.deepEqual([...stored].sort(), [...published].sort(), 'every event stored');
    const skipped = older.writer.stats().duplicatesSkipped + newer.writer.stats().duplicatesSkipped;
    assert.ok(skipped >= 10, `the events both versions received were stored once (${skipped} duplicates skipped)`);
  });
});
