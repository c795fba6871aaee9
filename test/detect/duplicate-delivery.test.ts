/**
 * Detection counts each event once, however often the bus delivers it. On NATS a publish
 * that JetStream does not acknowledge (stream full, JetStream unavailable or slow) is
 * retried with the same message id: the stream stores it once, but every attempt reaches the
 * live subscribers, detection among them. Here a real stream refuses new messages (full,
 * discard new), so one failed sign-in is delivered again at every retry.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { EventName } from '../../src/core/events.ts';
import { detectExtension, type DetectExtension } from '../../src/detect/extension.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { openStore } from '../../src/store/open-store.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('detection on NATS while JetStream refuses publishes', { skip: await serviceOrSkip('nats') }, () => {
  const stream = `DETDUP_${randomBytes(4).toString('hex')}`;
  const prefix = `dd${randomBytes(4).toString('hex')}`;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let dir: string;
  let store: Store;
  let bus: EventBus;
  let ext: DetectExtension;

  before(async () => {
    const u = new URL(NATS_URL);
    nc = await connect({ servers: `${u.hostname}:${u.port || '4222'}` });
    jsm = await jetstreamManager(nc);
    // Room for one message, then every publish is refused until the limit is raised.
    await jsm.streams.add({
      name: stream, subjects: [`${prefix}.>`], retention: RetentionPolicy.Limits, storage: StorageType.Memory,
      max_msgs: 1, discard: DiscardPolicy.New, duplicate_window: 60_000_000_000,
    });
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-dup-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = await createEventBus(NATS_URL, { instanceId: 'dup-0', stream, subjectPrefix: prefix });
    const config = parseConfig({ dataDir: dir, instanceId: 'dup-0', detect: { bruteForceAccount: { threshold: 3, windowMs: 600_000, actions: ['alert'] } } }, { env: {}, source: 'test' }).config;
    ext = detectExtension({ config, logger: pino({ level: 'silent' }), store, bus });
    await ext.start!(undefined as unknown as Gateway);
    await bus.flush();
  });

  after(async () => {
    await ext?.stop!();
    await bus?.close();
    await store?.close();
    await jsm?.streams.delete(stream).catch(() => undefined);
    await nc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const failedLogin = () => (bus.publish as (n: EventName, p: unknown) => void)('identity.login.failed', { username: 'carol', subject: 'u-carol', clientAddress: '198.51.100.20', reason: 'bad_credentials' });
  const alerts = () => createDetectRepo(store.db).listAlerts({ limit: 10 });

  it('one failed sign-in delivered again at every publish retry counts once: no brute-force alert from a single typo', async () => {
    (bus.publish as (n: EventName, p: unknown) => void)('config.rejected', { source: 'filler', problems: [] });
    await bus.flush();
    failedLogin();
    // Retries back off from 100 ms: wait for at least four attempts (each one a delivery).
    for (const deadline = Date.now() + 10_000; bus.stats().publishFailures < 4 && Date.now() < deadline;) await settle(50);
    assert.ok(bus.stats().publishFailures >= 4, `the publish was refused and retried (${bus.stats().publishFailures} failures)`);
    await settle(200);
    assert.deepEqual((await alerts()).map((a) => a.rule), [], 'one attempt is below the threshold of 3, however often it arrives');

    // JetStream takes events again: two more failures make three distinct ones, which fire once.
    await jsm.streams.update(stream, { max_msgs: -1 });
    await bus.flush();
    failedLogin();
    failedLogin();
    await bus.flush();
    let found = await alerts();
    for (const deadline = Date.now() + 5000; found.length === 0 && Date.now() < deadline; found = await alerts()) await settle(50);
    assert.deepEqual(found.map((a) => [a.rule, a.key, a.count]), [['brute_force_account', 'u-carol', 3]]);
  });
});
