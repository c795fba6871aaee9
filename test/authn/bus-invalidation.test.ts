/**
 * Invalidations reach every gateway instance through the real event bus (in-process, and
 * NATS JetStream when available): a token revoked, a session ended or a principal changed on
 * one instance is refused on another that had it cached. Each instance has its own bus
 * connection, caches and authn; they share the stores, as instances on one database do.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { authnSchema } from '../../src/core/config/authn-schema.ts';
import { createAuthn, type Authn } from '../../src/authn/create-authn.ts';
import { createBusInvalidationChannel, type BusInvalidationChannel } from '../../src/authn/bus-invalidation.ts';
import { MemoryRevokedTokenStore } from '../../src/authn/memory-stores.ts';
import { MemoryLoginStateStore, MemorySessionStore } from '../../src/authn/session/memory-session-store.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { TestDirectory } from './support/directory.ts';
import { call, compiledRoute, startHarness, type Harness } from './support/harness.ts';

const ORIGIN = 'https://gw.test';

interface Instance { authn: Authn; harness: Harness; channel: BusInvalidationChannel; bus: EventBus }

/** Retries `check` until it holds: delivery over a bus is asynchronous. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`never happened: ${what}`);
}

function registerSuite(name: string, makeBus: (instanceId: string) => Promise<EventBus>, skip: false | string, teardown: () => Promise<void> = async () => {}): void {
  describe(`authn invalidation over the ${name} bus`, { skip }, () => {
    let key: { privateKey: CryptoKey; jwk: JWK };
    const directory = new TestDirectory(async () => { /* the identity provider publishes on the bus itself */ });
    const revoked = new MemoryRevokedTokenStore();
    const sessionStore = new MemorySessionStore();
    let a: Instance;
    let b: Instance;

    async function instance(id: string): Promise<Instance> {
      const bus = await makeBus(id);
      const channel = createBusInvalidationChannel(bus);
      const authn = createAuthn({
        config: authnSchema.parse({}), publicOrigin: ORIGIN, principals: directory, apiTokens: directory,
        ownJwks: () => ({ keys: [key.jwk] }), revokedTokens: revoked, sessionStore, loginStore: new MemoryLoginStateStore(),
        onInvalidate: channel.onInvalidate, publish: channel.publish,
      });
      await authn.start();
      const harness = await startHarness({ stage: authn.stage, routes: [compiledRoute({ id: 'api', access: 'authenticated' })] });
      return { authn, harness, channel, bus };
    }

    before(async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      key = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'own', alg: 'ES256' } };
      for (const subject of ['alice', 'bob', 'carol', 'dave']) directory.add({ subject });
      a = await instance('gw-a');
      b = await instance('gw-b');
      // flush() resolves once every subscription made before it is active on the backend.
      await Promise.all([a.bus.flush(), b.bus.flush()]);
    });
    after(async () => {
      for (const i of [a, b]) {
        if (i === undefined) continue;
        await i.harness.close();
        i.authn.close();
        i.channel.close();
        await i.bus.close();
      }
      await teardown();
    });

    const token = (sub: string, jti = randomBytes(8).toString('hex')) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sub, aud: 'api', jti, iat: now, exp: now + 300 }).setIssuer(ORIGIN).setProtectedHeader({ alg: 'ES256', kid: 'own', typ: 'at+jwt' }).sign(key.privateKey);
    };
    const code = async (i: Instance, headers: Record<string, string>) => (await call(i.harness.url, { headers })).body?.error?.code as string | undefined;

    it('refuses on instance B a token revoked on instance A, although B had it cached', async () => {
      const jti = randomBytes(8).toString('hex');
      const headers = { authorization: `Bearer ${await token('alice', jti)}` };
      assert.equal((await call(b.harness.url, { headers })).status, 200);
      assert.equal((await call(b.harness.url, { headers })).headers.get('x-stage-sync'), '1', 'cached on B');
      await a.authn.revocations.revoke(ORIGIN, jti, Math.floor(Date.now() / 1000) + 300);
      assert.equal(await code(a, headers), 'ERR_AUTHN_TOKEN_REVOKED', 'refused at once on the revoking instance');
      await eventually(async () => (await code(b, headers)) === 'ERR_AUTHN_TOKEN_REVOKED', 'B refuses the revoked token');
    });

    it('refuses on instance B a session ended (logout) on instance A, although B had it cached', async () => {
      const principal = (await directory.getPrincipal('bob'))!;
      const { cookieValue, session } = await a.authn.sessions.create(principal, { issuer: ORIGIN, amr: ['pwd'], authTime: undefined });
      const headers = { cookie: `${SESSION_COOKIE}=${cookieValue}` };
      assert.equal((await call(b.harness.url, { headers })).status, 200);
      assert.equal((await call(b.harness.url, { headers })).headers.get('x-stage-sync'), '1', 'cached on B');
      await a.authn.sessions.revoke(session.id);
      await eventually(async () => (await code(b, headers)) === 'ERR_AUTHN_SESSION_INVALID', 'B refuses the ended session');
    });

    it('refuses everywhere a disabled principal once the identity provider publishes principal.changed', async () => {
      const headers = { authorization: `Bearer ${await token('carol')}` };
      for (const i of [a, b]) assert.equal((await call(i.harness.url, { headers })).status, 200);
      await directory.setDisabled('carol', true);
      // Without the event the caches would keep serving carol until her token expires.
      assert.equal((await call(b.harness.url, { headers })).status, 200);
      a.bus.publish('principal.changed', { subject: 'carol', kind: 'user', change: 'disabled' });
      for (const i of [a, b]) await eventually(async () => (await code(i, headers)) === 'ERR_AUTHN_PRINCIPAL_DISABLED', 'carol refused');
    });

    it('refuses everywhere an API token once the identity provider publishes identity.api_token.revoked', async () => {
      const { token: apiToken, tokenId } = directory.issueApiToken('dave');
      const headers = { authorization: `Bearer ${apiToken}` };
      for (const i of [a, b]) assert.equal((await call(i.harness.url, { headers })).status, 200);
      await directory.revokeApiToken(tokenId);
      assert.equal((await call(b.harness.url, { headers })).status, 200, 'still cached without the event');
      b.bus.publish('identity.api_token.revoked', { tokenId, ownerKind: 'user', ownerId: 'dave' });
      for (const i of [a, b]) await eventually(async () => (await code(i, headers)) === 'ERR_AUTHN_API_TOKEN_INVALID', 'API token refused');
    });

    it('ignores malformed invalidation events without breaking later ones', async () => {
      a.bus.publish('authn.invalidated', { type: 'token.revoked', issuer: ORIGIN, jti: '' });
      a.bus.publish('authn.invalidated', { type: 'token.revoked', jti: 'no-issuer', expiresAt: Math.floor(Date.now() / 1000) + 300 });
      a.bus.publish('authn.invalidated', { type: '__proto__' } as never);
      const jti = randomBytes(8).toString('hex');
      const headers = { authorization: `Bearer ${await token('alice', jti)}` };
      assert.equal((await call(b.harness.url, { headers })).status, 200);
      await a.authn.revocations.revoke(ORIGIN, jti, Math.floor(Date.now() / 1000) + 300);
      await eventually(async () => (await code(b, headers)) === 'ERR_AUTHN_TOKEN_REVOKED', 'B refuses after malformed events');
    });
  });
}

// One in-process bus is shared by the instances of one process; each gets its own subscription.
let memory: MemoryEventBus | undefined;
registerSuite('in-process', async (instanceId) => {
  memory ??= new MemoryEventBus({ instanceId });
  const shared = memory;
  // Closing one instance must not close the bus under the other.
  return { ...shared, publish: shared.publish.bind(shared), wants: shared.wants.bind(shared), subscribe: shared.subscribe.bind(shared), flush: shared.flush.bind(shared), health: shared.health.bind(shared), stats: shared.stats.bind(shared), close: async () => {} };
}, false, async () => { await memory?.close(); });

const natsSkip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const natsOptions = { stream: `GH_AUTHN_${run}`, subjectPrefix: `ghauthn.${run}`, maxAgeMs: 10 * 60_000 };
registerSuite('NATS JetStream', (instanceId) => createNatsEventBus(NATS_URL, { instanceId, ...natsOptions }), natsSkip, async () => {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  try { await (await jetstreamManager(nc)).streams.delete(natsOptions.stream); } catch { /* never created */ } finally { await nc.close(); }
});
