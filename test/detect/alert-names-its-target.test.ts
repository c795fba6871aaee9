/**
 * An operator reading the log or the audit log must learn whom an alert is about. The alert's
 * target travels in a field named `key`, which redaction treats as a secret: both the log's
 * warning and the `detect.alert` audit record said `"key":"[REDACTED]"`.
 * Real in-process bus and SQLite store, the gateway's redacting logger setup, the audit mapper.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { Envelope, EventName } from '../../src/core/events.ts';
import { detectExtension, type DetectExtension } from '../../src/detect/extension.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';

describe('an alert names whom it is about', () => {
  let dir: string;
  let store: Store;
  let bus: EventBus;
  let ext: DetectExtension;
  const alerts: Envelope[] = [];
  const lines: Record<string, unknown>[] = [];
  const redactor = createRedactor();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-target-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = await createEventBus('memory:', { instanceId: 'tgt-0' });
    const config = parseConfig({
      dataDir: dir, instanceId: 'tgt-0',
      detect: { bruteForceAddress: { threshold: 3, windowMs: 60_000 }, bruteForceAccount: { threshold: 3, windowMs: 60_000, actions: ['alert'] } },
    }, { env: {}, source: 'test' }).config;
    const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
    const logger = pino({ formatters: { log: redactor.logFormatter }, hooks: { logMethod: redactor.logMethod } }, sink);
    ext = detectExtension({ config, logger, store, bus });
    await ext.start!(undefined as unknown as Gateway);
    bus.subscribe(['detect.alert'], (e) => { alerts.push(e); });
    await bus.flush();
    // A password guesser at 192.0.2.55 trying one account (no such user: the account key is the name typed).
    for (let i = 0; i < 3; i++) (bus.publish as (n: EventName, p: unknown) => void)('identity.login.failed', { username: 'victor', clientAddress: '192.0.2.55', reason: 'unknown_user' });
    await bus.flush();
    for (const deadline = Date.now() + 5000; alerts.length < 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 25));
    await bus.flush();
  });

  after(async () => {
    await ext?.stop!();
    await bus?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('brute force from one address: the log warning and the audit record name the address, not [REDACTED]', () => {
    const alert = alerts.find((a) => (a.payload as { rule: string }).rule === 'brute_force_address');
    assert.ok(alert, 'the rule fired');
    const warning = lines.find((l) => l.msg === 'detect: brute_force_address');
    assert.ok(warning, 'logged');
    assert.equal(warning.address, '192.0.2.55');
    assert.ok(!JSON.stringify(warning).includes('[REDACTED]'), JSON.stringify(warning));
    const draft = draftFromEnvelope(alert as Parameters<typeof draftFromEnvelope>[0], redactor);
    assert.equal(JSON.parse(draft.details).key, '192.0.2.55');
    assert.equal(draft.actor, 'detect:brute_force_address');
    assert.equal(draft.actorKind, 'system');
  });

  it('brute force on one account: the record names the account typed', () => {
    const alert = alerts.find((a) => (a.payload as { rule: string }).rule === 'brute_force_account');
    assert.ok(alert, 'the rule fired');
    assert.equal(lines.find((l) => l.msg === 'detect: brute_force_account')?.account, 'victor');
    assert.equal(JSON.parse(draftFromEnvelope(alert as Parameters<typeof draftFromEnvelope>[0], redactor).details).key, 'victor');
  });

  it('a credential typed as the account name is still cut out of the alert record (string rules apply)', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl';
    const draft = draftFromEnvelope({ id: 'e1', time: new Date().toISOString(), instance: 'i', name: 'detect.alert',
      payload: { alertId: 'al_1', rule: 'brute_force_account', severity: 'high', keyKind: 'account', key: `Bearer ${jwt}`, count: 10, windowStart: new Date().toISOString(), actions: ['alert'] } }, redactor);
    assert.ok(!draft.details.includes(jwt), draft.details);
  });
});
