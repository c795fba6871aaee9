/**
 * Detection follows a configuration reload on a real, fully composed Gatehouse (IdP, bus,
 * store, detection, block stages): an operator who lowers a brute-force threshold during an
 * attack gets it enforced from the attacker's next guess, without a restart, and the guesses
 * counted before the reload still count. Before, `detect` was read at start only and the
 * reload just logged that it needed a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as oidc from 'openid-client';
import pino from 'pino';
import { parse, stringify } from 'yaml';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { EventName } from '../../src/core/events.ts';
import { detectExtension } from '../../src/detect/extension.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import { openStore } from '../../src/store/open-store.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import { REDIRECT, startAuth, submitLogin } from '../identity/support/flows.ts';
import { discover, startIdpGateway, type IdpGateway } from '../identity/support/gateway-idp.ts';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('detection rules on configuration reload', () => {
  let idp: IdpGateway;
  let config: oidc.Configuration;

  before(async () => {
    idp = await startIdpGateway({
      // The identity provider's own throttles stay out of the way: only detection acts here.
      identity: { login: { delayAfterFailures: 100, lockAfterFailures: 1000, addressLockAfterFailures: 1000 } },
      detect: { bruteForceAddress: { threshold: 20, windowMs: 600_000, actions: ['alert', 'block'] } },
    });
    const app = await idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await discover(idp, 'webapp', app.secret!);
  });
  after(() => idp?.close());

  async function guess(): Promise<void> {
    const start = await startAuth(idp, config);
    const r = await submitLogin(idp, start, 'mallory', 'guess-123456');
    assert.equal(r.status, 401, 'a wrong guess is refused');
  }

  const alerts = () => createDetectRepo(idp.store.db).listAlerts({ limit: 10 });

  async function reloadDetect(change: (detect: Record<string, Record<string, unknown>>) => void): Promise<void> {
    const file = idp.gw.configFile;
    const doc = parse(await readFile(file, 'utf8')) as { detect: Record<string, Record<string, unknown>> };
    change(doc.detect);
    await writeFile(file, stringify(doc));
    const result = await idp.gw.gateway.reload('SIGHUP');
    assert.equal(result.applied, true);
  }

  it('password guessing from one address is blocked at the threshold lowered by a reload, counting the guesses made before it', async () => {
    await guess();
    await guess();
    await settle(200);
    assert.deepEqual(await alerts(), [], 'two guesses are far below the threshold of 20');

    // Mid-attack, the operator tightens the rule to 4 and reloads.
    await reloadDetect((d) => { d.bruteForceAddress!.threshold = 4; });
    assert.ok(!idp.gw.logs.lines.some((l) => l.msg === 'these settings change only on restart'), 'no restart asked for');

    await guess();
    await settle(200);
    assert.deepEqual(await alerts(), [], 'three guesses: below the new threshold');
    await guess();

    let found = await alerts();
    for (const deadline = Date.now() + 5000; found.length === 0 && Date.now() < deadline; found = await alerts()) await settle(50);
    assert.equal(found.length, 1, 'the fourth guess, two before and two after the reload, fires the rule');
    assert.equal(found[0]!.rule, 'brute_force_address');
    assert.equal(found[0]!.count, 4);
    assert.deepEqual(found[0]!.actions, ['alert', 'block']);
    // The block is stored after the alert: wait for it to be in force.
    let blocked = await idp.gw.fetch('/.well-known/openid-configuration');
    for (const deadline = Date.now() + 5000; blocked.status !== 403 && Date.now() < deadline; blocked = await idp.gw.fetch('/.well-known/openid-configuration')) await settle(50);
    assert.equal(blocked.status, 403, 'the guessing address is blocked at the edge');
    assert.match(blocked.body, /ERR_SHIELD_BLOCKED/);
  });
});

describe('detection switched off and on by configuration reload', () => {
  it('switched off, detection acts on no event; switched on again, it acts with the reloaded rules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-detect-toggle-'));
    const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    const bus = await createEventBus('memory:', { instanceId: 'toggle' });
    const settings = (detect: Record<string, unknown>) => parseConfig({ dataDir: dir, instanceId: 'toggle', detect }, { env: {}, source: 'test' }).config;
    const ext = detectExtension({ config: settings({ bruteForceAccount: { threshold: 2, actions: ['alert'] } }), logger: pino({ level: 'silent' }), store, bus });
    const reload = (detect: Record<string, unknown>) => ext.onReload!({ applied: true, version: 2, source: 'test', routes: 0, changedKeys: ['detect'], restartOnly: [], config: settings(detect) });
    const guess = (username: string) => (bus.publish as (n: EventName, p: unknown) => void)('identity.login.failed', { username, clientAddress: '198.51.100.9', reason: 'unknown_user' });
    const alertedKeys = async () => (await createDetectRepo(store.db).listAlerts({ limit: 10 })).map((a) => a.key);
    try {
      await store.migrate();
      await ext.start!(undefined as unknown as Gateway);

      reload({ enabled: false, bruteForceAccount: { threshold: 2, actions: ['alert'] } });
      assert.equal(ext.detector, undefined);
      for (let i = 0; i < 3; i++) guess('bob');
      await bus.flush();
      await settle(100);
      assert.deepEqual(await alertedKeys(), [], 'no alert while switched off');

      reload({ bruteForceAccount: { threshold: 3, actions: ['alert'] } });
      for (let i = 0; i < 3; i++) guess('carol');
      await bus.flush();
      let keys = await alertedKeys();
      for (const deadline = Date.now() + 5000; keys.length === 0 && Date.now() < deadline; keys = await alertedKeys()) await settle(25);
      assert.deepEqual(keys, ['carol']);
    } finally {
      await ext.stop!();
      await bus.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
