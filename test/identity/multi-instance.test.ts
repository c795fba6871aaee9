/**
 * Two Gatehouse instances behind one public URL, sharing one PostgreSQL database and one
 * NATS JetStream bus, as they run behind a load balancer: a relying party's requests may
 * land on either instance, and what one instance did must hold on the other.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import pino from 'pino';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import { openStore } from '../../src/store/open-store.ts';
import { createIdentityProvider, type IdentityEventSink } from '../../src/identity/index.ts';
import { keysRotate } from '../../src/identity/commands/index.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { followToCallback, PASSWORD, REDIRECT, startAuth, submitLogin } from './support/flows.ts';
import { discover, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

const skip = (await serviceOrSkip('postgres')) || (await serviceOrSkip('nats'));

describe('two instances on one PostgreSQL database and one NATS bus', { skip }, () => {
  const run = randomBytes(5).toString('hex');
  let database: ScratchDatabase | undefined;
  const natsOptions = { stream: `GH_IDP_${run}`, subjectPrefix: `ghidp.${run}` };
  let storeUrl: string;
  let a: IdpGateway;
  let b: IdpGateway;
  let configA: oidc.Configuration;
  let configB: oidc.Configuration;
  let svcSecret: string;

  before(async () => {
    database = await createScratchDatabase('gh_idp_multi');
    storeUrl = database.url;
    // Shared by the fleet: the database, the bus and the key-encryption secret.
    const shared = {
      store: { url: storeUrl },
      bus: { url: NATS_URL, ...natsOptions, maxAgeMs: 10 * 60_000 },
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url') } },
      pki: { enabled: false },
    };
    a = await startIdpGateway({ ...shared, instanceId: 'idp-a' });
    b = await startIdpGateway({ ...shared, instanceId: 'idp-b' });
    await a.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
    const app = await a.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    svcSecret = (await a.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] })).secret!;
    configA = await discover(a, 'webapp', app.secret!);
    configB = await discover(b, 'webapp', app.secret!);
  });

  after(async () => {
    try {
      await a?.close();
      await b?.close();
      const nc = await connect({ servers: new URL(NATS_URL).host });
      try { await (await jetstreamManager(nc)).streams.delete(natsOptions.stream); } catch { /* never created */ } finally { await nc.close(); }
    } finally {
      await database?.drop();
    }
  });

  /** Signs alice in at instance A; returns the callback URL (with the code) and the PKCE verifier. */
  async function codeFromA(scope = 'openid offline_access') {
    const start = await startAuth(a, configA, scope);
    const r = await submitLogin(a, start, 'alice', PASSWORD);
    return { callback: await followToCallback(a, start, r.location), start };
  }

  it('redeems on instance B a code issued by instance A', async () => {
    const { callback, start } = await codeFromA();
    const tokens = await oidc.authorizationCodeGrant(configB, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    assert.match(tokens.claims()!.sub, /^usr_/);
    // And the code is single-use across the fleet: replaying it on A fails.
    await assert.rejects(oidc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce }), (e: any) => e.error === 'invalid_grant');
  });

  it('revokes the grant when a refresh token rotated on A is replayed on B', async () => {
    const { callback, start } = await codeFromA();
    const first = await oidc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const second = await oidc.refreshTokenGrant(configA, first.refresh_token!);
    await assert.rejects(oidc.refreshTokenGrant(configB, first.refresh_token!), (e: any) => e.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(configA, second.refresh_token!), (e: any) => e.error === 'invalid_grant', 'the legitimate holder\'s newer token died with the grant');
    assert.equal((await oidc.tokenIntrospection(configB, second.access_token)).active, false);
    assert.equal((await oidc.tokenIntrospection(configA, second.access_token)).active, false);
  });

  it('publishes a key rotated elsewhere (gatehouse keys rotate) in the JWKS of both instances, through identity.keys.rotated on NATS', async () => {
    const jwks = async (idp: IdpGateway) => ((await (await idp.fetch(`${idp.origin}/oidc/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await jwks(a);
    assert.deepEqual(await jwks(b), before);
    // What `gatehouse keys rotate` does: its own IdP over the same store and bus.
    const store = await openStore(storeUrl);
    const bus = await createEventBus(NATS_URL, { instanceId: 'cli', ...natsOptions });
    try {
      const idp = await createIdentityProvider({ config: a.gw.gateway.config, store, logger: pino({ level: 'silent' }), bus: bus as unknown as IdentityEventSink, publicUrl: a.origin });
      const rotated = await keysRotate(idp);
      await bus.flush();
      await idp.close();
      for (const instance of [a, b]) {
        const deadline = Date.now() + 10_000;
        let kids = await jwks(instance);
        while (kids[0] !== rotated.kid && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          kids = await jwks(instance);
        }
        assert.deepEqual(kids, [rotated.kid, before[0]], 'new key first, the previous one still verifying');
      }
      // Both instances now sign with the new key.
      for (const instance of [a, b]) {
        const svc = await discover(instance, 'billing', svcSecret);
        assert.equal(decodeProtectedHeader((await oidc.clientCredentialsGrant(svc, {})).access_token).kid, rotated.kid);
      }
    } finally {
      await bus.close();
      await store.close();
    }
  });
});
