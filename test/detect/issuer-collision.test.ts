/**
 * Detection keyed on principals, against principals that share an id or a name with another:
 * an external issuer (`principals: claims`) minting a local user's `sub`, a service whose
 * client id is some user's name, an issuer giving its principal a very long `sub`. Identities
 * come from the real authentication stage; events cross a real bus into the detection
 * extension over SQLite, with the real account locker and block stage.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import pino from 'pino';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { isGatehouseError } from '../../src/core/errors.ts';
import { detectExtension, type DetectExtension } from '../../src/detect/extension.ts';
import { createStoreAccountLocker } from '../../src/detect/store-account-locker.ts';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Gateway } from '../../src/gateway/gateway.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import type { Store } from '../../src/store/index.ts';
import { sqliteBackend, type TestDatabase } from '../audit/support/backends.ts';
import { call } from '../authn/support/harness.ts';
import { collidingIdentities, type CollidingIdentities } from '../authn/support/colliding-identities.ts';
import { createSetup, sign, JWKS_ISSUER, type Setup } from '../authn/support/setup.ts';

const THRESHOLD = 4;

describe('detection across principals that share an id or a name', () => {
  let s: Setup;
  let ids: CollidingIdentities;
  let db: TestDatabase;
  let store: Store;
  let bus: EventBus;
  let ext: DetectExtension;

  before(async () => {
    s = await createSetup();
    ids = await collidingIdentities(s);
    db = await sqliteBackend.create();
    store = await db.open();
    bus = await createEventBus('memory:', { instanceId: 'det-0' });
    const detect = { denialBurst: { threshold: THRESHOLD, windowMs: 60_000, actions: ['alert', 'block', 'lock'] } };
    const config = parseConfig({ dataDir: db.dir, instanceId: 'det-0', detect }, { env: {}, source: 'test' }).config;
    ext = detectExtension({ config, logger: pino({ level: 'silent' }), store, bus }, { accountLocker: createStoreAccountLocker(store) });
    await ext.start!(undefined as unknown as Gateway);
  });

  after(async () => {
    await ext?.stop!();
    await bus?.close();
    await store?.close();
    await db?.drop();
    await s?.close();
  });

  /** `gateway.request` as the record stage publishes it, for a request the policy denied. */
  function denied(subject: string): void {
    bus.publish('gateway.request', {
      requestId: 'r', traceId: '', routeId: 'docs', method: 'GET', path: '/docs/x', status: 403, durationMs: 1,
      clientAddress: '192.0.2.10', subject, errorCode: 'ERR_POLICY_DENIED', stage: 'authorize', bytesIn: 0, bytesOut: 0,
    });
  }

  /** Runs the blockIdentity stage for the identity; returns the error code it refused with, if any. */
  function blockStage(identity: Identity): string | undefined {
    const message = new IncomingMessage(new Socket());
    const ctx = new RequestContext(message, new ServerResponse(message), {} as Generation);
    ctx.identity = identity;
    try {
      ext.blockStages.blockIdentity(ctx);
      return undefined;
    } catch (err) {
      if (isGatehouseError(err)) return err.code;
      throw err;
    }
  }

  async function alertsFor(key: string) {
    await bus.flush();
    return (await createDetectRepo(store.db).listAlerts({ limit: 100 })).filter((a) => a.rule === 'denial_burst' && a.key === key);
  }

  it('subject collision from another issuer does not block the local user: the burst blocks the other issuer\'s principal only', async () => {
    for (let i = 0; i < THRESHOLD; i++) denied(ids.foreign.subject);
    const [alert] = await alertsFor(ids.foreign.subject);
    assert.ok(alert, 'the other issuer\'s principal is alerted on');
    assert.equal(blockStage(ids.foreign), 'ERR_SHIELD_BLOCKED');
    assert.equal(blockStage(ids.local), undefined, 'the local user alice is not blocked');
  });

  it('subject collision from another issuer does not lock the local user\'s account (nor any account: that principal has none here)', async () => {
    const users = new IdentityUsersRepo(store.db);
    await users.insert({ id: 'usr_carol1', username: 'carol', roles: [] });
    const { foreign } = await collidingIdentities(s, 'carol');
    for (let i = 0; i < THRESHOLD; i++) denied(foreign.subject);
    const [alert] = await alertsFor(foreign.subject);
    assert.deepEqual(alert?.actions, ['alert', 'block'], 'no lock action for a principal without an account here');
    assert.equal((await users.findById('usr_carol1'))!.lockedUntil, undefined);
  });

  it('a service whose client id is a user\'s name, denied again and again, does not lock that user (a subject is never looked up as a user name)', async () => {
    const users = new IdentityUsersRepo(store.db);
    await users.insert({ id: 'usr_reports1', username: 'reports-api', roles: [] });
    for (let i = 0; i < THRESHOLD; i++) denied('reports-api');
    const [alert] = await alertsFor('reports-api');
    assert.ok(alert);
    assert.equal((await users.findById('usr_reports1'))!.lockedUntil, undefined);
  });

  it('a principal whose issuer gave it a sub longer than 512 characters is still counted and blocked (a long sub does not evade detection)', async () => {
    const token = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { sub: `x${'y'.repeat(600)}` });
    const long = (await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } })).body as Identity;
    assert.ok(long.subject.startsWith(`${JWKS_ISSUER}#x`) && long.subject.length > 600);
    for (let i = 0; i < THRESHOLD; i++) denied(long.subject);
    await bus.flush();
    const alerts = (await createDetectRepo(store.db).listAlerts({ limit: 100 })).filter((a) => a.rule === 'denial_burst' && a.key.startsWith('sha256:'));
    assert.equal(alerts.length, 1);
    assert.equal(blockStage(long), 'ERR_SHIELD_BLOCKED');
  });
});
