/**
 * What the audit log is told about an alert's actions: the `detect.alert` event (the audit
 * record of the alert) lists the actions that were carried out, not the ones intended.
 * Real in-process bus and SQLite store; the account locker is the identity side's, here one
 * whose store is unavailable.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { Envelope, EventName } from '../../src/core/events.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { detectExtension, type DetectExtension } from '../../src/detect/extension.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';

describe('detection actions as recorded', () => {
  let dir: string;
  let store: Store;
  let bus: EventBus;
  let ext: DetectExtension;
  const alerts: Envelope[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-actions-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = await createEventBus('memory:', { instanceId: 'act-0' });
    const config = parseConfig({
      dataDir: dir, instanceId: 'act-0',
      detect: { mfaFailures: { threshold: 2, windowMs: 60_000, actions: ['alert', 'lock', 'block'] } },
    }, { env: {}, source: 'test' }).config;
    const accountLocker = { lockAccount: () => Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'identity store down' })) };
    ext = detectExtension({ config, logger: pino({ level: 'silent' }), store, bus }, { accountLocker });
    await ext.start!(undefined as unknown as Gateway);
    bus.subscribe(['detect.alert'], (e) => { alerts.push(e); });
    await bus.flush();
  });

  after(async () => {
    await ext?.stop!();
    await bus?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an account lock that fails is not recorded as taken, and the block of the same alert is still placed', async () => {
    for (let i = 0; i < 2; i++) (bus.publish as (n: EventName, p: unknown) => void)('identity.mfa.failed', { subject: 'u-frank', clientAddress: '192.0.2.80', reason: 'invalid' });
    await bus.flush();
    for (const deadline = Date.now() + 5000; alerts.length === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 25));
    await bus.flush();
    assert.equal(alerts.length, 1);
    assert.deepEqual((alerts[0]!.payload as { actions: string[] }).actions, ['alert', 'block'], 'the audit record says what was done');
    assert.ok(ext.blockCheck.isBlocked(undefined, 'u-frank'), 'the block was placed');
  });
});
