/**
 * Detection end to end over a real bus and store: identity events in, alerts, blocks and
 * locks out, the block enforced by a real gateway, and the actions recorded in the audit
 * log. Runs on (memory bus, SQLite) and (NATS JetStream with two instances, PostgreSQL).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pino from 'pino';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { EventName } from '../../src/core/events.ts';
import { detectExtension, type DetectExtension } from '../../src/detect/extension.ts';
import { createStoreAccountLocker } from '../../src/detect/store-account-locker.ts';
import { liftBlocks } from '../../src/detect/blocks.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { queryAudit } from '../../src/audit/query.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import type { Store } from '../../src/store/index.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { startGateway, startUpstream } from '../support/gateway.ts';
import type { Gateway, GatewayExtension } from '../../src/gateway/gateway.ts';
import { postgresBackend, sqliteBackend, type AuditBackend, type TestDatabase } from '../audit/support/backends.ts';

const detect = {
  bruteForceAccount: { threshold: 4, windowMs: 60_000 },
  bruteForceAddress: { threshold: 50, windowMs: 60_000 },
  credentialStuffing: { threshold: 5, windowMs: 60_000 },
  refreshReuse: { threshold: 1, windowMs: 60_000 },
};

interface Instance { bus: EventBus; ext: DetectExtension }

/** Identity events are published by name (the identity provider's own event table). */
function publish(bus: EventBus, name: string, payload: Record<string, unknown>): void {
  (bus.publish as (n: EventName, p: unknown) => void)(name as EventName, payload);
}

const setups: { name: string; store: AuditBackend; bus: 'memory' | 'nats'; skip: false | string }[] = [
  { name: 'memory bus + SQLite', store: sqliteBackend, bus: 'memory', skip: false },
];
{
  const pgBackend = await postgresBackend();
  const natsSkip = await serviceOrSkip('nats');
  setups.push({ name: 'NATS JetStream (two instances) + PostgreSQL', store: pgBackend, bus: 'nats', skip: pgBackend.skip || natsSkip });
}

for (const setup of setups) {
  describe(`detection on ${setup.name}`, { skip: setup.skip }, () => {
    let db: TestDatabase;
    let store: Store;
    const instances: Instance[] = [];
    let writer: AuditWriter;
    let unsubscribeAudit: () => void;
    const stream = `DETECT_${randomBytes(4).toString('hex')}`;
    const prefix = `dt${randomBytes(4).toString('hex')}`;

    before(async () => {
      db = await setup.store.create();
      store = await db.open();
      const count = setup.bus === 'nats' ? 2 : 1;
      let memoryBus: EventBus | undefined;
      for (let i = 0; i < count; i++) {
        const config = parseConfig({ dataDir: db.dir, instanceId: `det-${i}`, detect }, { env: {}, source: 'test' }).config;
        const bus = setup.bus === 'nats'
          ? await createEventBus(NATS_URL, { instanceId: `det-${i}`, stream, subjectPrefix: prefix })
          : (memoryBus ??= await createEventBus('memory:', { instanceId: 'det-0' }));
        const ext = detectExtension({ config, logger: pino({ level: 'silent' }), store, bus }, { accountLocker: createStoreAccountLocker(store) });
        await ext.start!(undefined as unknown as Gateway);
        instances.push({ bus, ext });
      }
      // The audit log of instance 0 records every action (detect.* events).
      const redactor = createRedactor();
      writer = AuditWriter.open({ store, instance: 'det-0', spoolDir: join(db.dir, 'spool') });
      unsubscribeAudit = instances[0]!.bus.subscribe(['detect.alert', 'detect.block.added', 'detect.block.lifted'], (e) => { writer.append(draftFromEnvelope(e, redactor), true); }, { durable: 'audit' });
      for (const x of instances) await x.bus.flush();
    });

    after(async () => {
      unsubscribeAudit?.();
      await writer?.close();
      for (const x of instances) await x.ext.stop!();
      for (const x of new Set(instances.map((i) => i.bus))) await x.close();
      await store?.close();
      await db?.drop();
    });

    /** Waits until `check` passes (events cross the bus asynchronously). */
    async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (!(await check())) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }

    it('password brute force against one account raises one alert and locks the account', async () => {
      const users = new IdentityUsersRepo(store.db);
      await users.insert({ id: 'u-alice', username: 'alice', roles: [] });
      for (let i = 0; i < 4; i++) publish(instances[i % instances.length]!.bus, 'identity.login.failed', { username: 'alice', clientAddress: `198.51.100.${i}`, reason: 'bad_credentials' });
      await eventually(async () => (await users.findById('u-alice'))?.lockedUntil !== undefined, 'the account lock');
      const alerts = (await createDetectRepo(store.db).listAlerts({ limit: 100 })).filter((a) => a.rule === 'brute_force_account');
      assert.equal(alerts.length, 1, 'one alert, however many instances saw the events');
      assert.deepEqual(alerts[0]!.actions, ['alert', 'lock']);
      assert.ok((await users.findById('u-alice'))!.lockedUntil! > Date.now());
    });

    it('credential stuffing from one address blocks the address on every instance, and a real gateway refuses it with 403 ERR_SHIELD_BLOCKED', async () => {
      // The test gateway's clients come from 127.0.0.1.
      const upstream = await startUpstream();
      const enforce: GatewayExtension = { name: 'blocks', stages: () => ({ edgeRateLimit: instances[0]!.ext.blockStages.blockAddress }) };
      const gw = await startGateway({ upstreams: { app: { url: upstream.url } }, routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }] }, { extensions: [enforce] });
      try {
        assert.equal((await gw.fetch('/app/x')).status, 200);
        for (let i = 0; i < 5; i++) publish(instances[0]!.bus, 'identity.login.failed', { username: `victim${i}`, clientAddress: '127.0.0.1', reason: 'unknown_user' });
        for (const x of instances) await eventually(() => x.ext.blockCheck.isBlocked('127.0.0.1') !== undefined, 'the address block on every instance');
        const res = await gw.fetch('/app/x');
        assert.equal(res.status, 403);
        assert.equal(JSON.parse(res.body).error.code, 'ERR_SHIELD_BLOCKED');
        assert.equal(upstream.received.length, 1, 'the blocked request never reached the upstream');
        // An admin lifts it; every instance lets the address through again.
        const lifted = await liftBlocks(store, instances[0]!.bus, { kind: 'address', value: '127.0.0.1' }, 'admin:test');
        assert.equal(lifted.length, 1);
        for (const x of instances) await eventually(() => x.ext.blockCheck.isBlocked('127.0.0.1') === undefined, 'the lift on every instance');
        assert.equal((await gw.fetch('/app/x')).status, 200);
      } finally {
        await gw.close();
        await upstream.close();
      }
    });

    it('a replayed refresh token raises an alert and blocks the subject', async () => {
      publish(instances.at(-1)!.bus, 'identity.refresh.reused', { clientId: 'mail-web', subject: 'u-bob', grantId: 'grant-1' });
      for (const x of instances) await eventually(() => x.ext.blockCheck.isBlocked(undefined, 'u-bob') !== undefined, 'the subject block');
      const alerts = (await createDetectRepo(store.db).listAlerts({ limit: 100 })).filter((a) => a.rule === 'refresh_token_reuse');
      assert.equal(alerts.length, 1);
      assert.throws(() => instances[0]!.ext.blockStages.blockIdentity({ identity: { subject: 'u-bob' } } as never), { code: 'ERR_SHIELD_BLOCKED' });
    });

    it('records every action (alerts, blocks, lifts) in the audit log', async () => {
      await eventually(async () => {
        await writer.flush();
        const events: string[] = [];
        for await (const r of queryAudit(store, {})) events.push(r.event);
        return events.filter((e) => e === 'detect.alert').length >= 3 && events.includes('detect.block.added') && events.includes('detect.block.lifted');
      }, 'the audit records of the actions');
    });
  });
}
