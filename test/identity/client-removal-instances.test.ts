/**
 * Removing a client with `gatehouse client remove` — its own identity provider over the shared
 * PostgreSQL store and NATS bus, as the command runs beside a fleet — ends its JWT access tokens
 * at every gateway instance: the revocation is in the store every instance reads and is announced
 * on the bus, so no instance keeps accepting them from its verified-token cache.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import pino from 'pino';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import { openStore } from '../../src/store/open-store.ts';
import { createIdentityProvider, type IdentityEventSink } from '../../src/identity/index.ts';
import { clientRemove } from '../../src/identity/commands/index.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';
import { followToCallback, PASSWORD, REDIRECT, startAuth, submitLogin } from './support/flows.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

const skip = (await serviceOrSkip('postgres')) || (await serviceOrSkip('nats'));

describe('removing a client from the command line, with two instances on one store and bus', { skip }, () => {
  const run = randomBytes(5).toString('hex');
  let database: ScratchDatabase | undefined;
  const natsOptions = { stream: `GH_CRM_${run}`, subjectPrefix: `ghcrm.${run}` };
  let storeUrl: string;
  let upstream: TestUpstream;
  let a: IdpGateway;
  let b: IdpGateway;

  before(async () => {
    database = await createScratchDatabase('gh_client_rm');
    storeUrl = database.url;
    upstream = await startUpstream();
    const shared = {
      store: { url: storeUrl },
      bus: { url: NATS_URL, ...natsOptions, maxAgeMs: 10 * 60_000 },
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url') } },
      pki: { enabled: false },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'api', path: '/api', upstream: 'app', access: 'authenticated' as const, authentication: { methods: ['jwt' as const] } }],
      // Longer than the test: what ends the tokens must be the announcement, not a periodic re-read.
      authn: { maintenance: { revocationRefreshMs: 10 * 60_000 } },
    };
    a = await startIdpGateway({ ...shared, instanceId: 'rm-a' });
    b = await startIdpGateway({ ...shared, instanceId: 'rm-b' });
    await a.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
  });

  after(async () => {
    try {
      await a?.close();
      await b?.close();
      await upstream?.close();
      const nc = await connect({ servers: new URL(NATS_URL).host });
      try { await (await jetstreamManager(nc)).streams.delete(natsOptions.stream); } catch { /* never created */ } finally { await nc.close(); }
    } finally {
      await database?.drop();
    }
  });

  const atGateway = async (instance: IdpGateway, token: string): Promise<number | string> => {
    const res = await instance.fetch(`${PUBLIC_URL}/api/inbox`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    return res.status === 200 ? 200 : (JSON.parse(body) as { error: { code: string } }).error.code;
  };

  async function waitForRefusal(instance: IdpGateway, token: string): Promise<number | string> {
    const deadline = Date.now() + 10_000;
    let answer = await atGateway(instance, token);
    while (answer === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      answer = await atGateway(instance, token);
    }
    return answer;
  }

  it("refuses the removed app's JWT access tokens and the removed service's client-credentials JWTs on both instances, cached there before (attack: tokens of a decommissioned client at another instance)", async () => {
    const app = await a.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    const svc = await a.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] });
    const config = await discover(a, 'webapp', app.secret!);
    const start = await startAuth(a, config, 'openid offline_access', undefined, { resource: PUBLIC_URL });
    const callback = await followToCallback(a, start, (await submitLogin(a, start, 'alice', PASSWORD)).location);
    const user = (await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token;
    const service = (await oidc.clientCredentialsGrant(await discover(b, 'billing', svc.secret!))).access_token;
    // Both instances have verified (and cached) both tokens.
    for (const instance of [a, b]) for (const token of [user, service]) assert.equal(await atGateway(instance, token), 200);

    const store = await openStore(storeUrl);
    const bus = await createEventBus(NATS_URL, { instanceId: 'cli', ...natsOptions });
    try {
      const idp = await createIdentityProvider({ config: a.gw.gateway.config, store, logger: pino({ level: 'silent' }), bus: bus as unknown as IdentityEventSink, publicUrl: a.origin });
      await clientRemove(idp, 'webapp');
      await clientRemove(idp, 'billing');
      await bus.flush();
      await idp.close();
    } finally {
      await bus.close();
      await store.close();
    }
    for (const instance of [a, b]) {
      assert.equal(await waitForRefusal(instance, user), 'ERR_AUTHN_TOKEN_REVOKED');
      assert.notEqual(await waitForRefusal(instance, service), 200);
    }
  });
});
