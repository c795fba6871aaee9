/**
 * External truth for DPoP: the access token comes from the real Gatehouse IdP (oidc-provider,
 * a client registered with `dpopBoundAccessTokens`), and the proofs are made by openid-client —
 * an independent implementation — against the real authenticate stage.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { authnSchema } from '../../src/core/config/authn-schema.ts';
import { createAuthn, type Authn } from '../../src/authn/create-authn.ts';
import { createLocalInvalidationChannel } from '../../src/authn/local-invalidation.ts';
import { MemoryRevokedTokenStore } from '../../src/authn/memory-stores.ts';
import { MemoryLoginStateStore, MemorySessionStore } from '../../src/authn/session/memory-session-store.ts';
import type { RequestContext } from '../../src/gateway/context.ts';
import { startHarness as startIdp, type Harness as IdpHarness } from '../identity/support/harness.ts';
import { call, compiledRoute, startHarness, type Harness } from './support/harness.ts';

describe('DPoP with a token from the real IdP and proofs made by openid-client', () => {
  let idp: IdpHarness;
  let gw: Harness;
  let authn: Authn | undefined;
  let config: oidc.Configuration;
  let dpop: oidc.DPoPHandle;
  let accessToken = '';

  before(async () => {
    idp = await startIdp('sqlite');
    const { secret } = await idp.idp.accounts.addClient({ clientId: 'svc-dpop', kind: 'service', dpopBoundAccessTokens: true, roles: ['reader'] });
    gw = await startHarness({
      stage: (ctx: RequestContext) => authn!.stage(ctx),
      routes: [compiledRoute({ id: 'api', access: 'authenticated', authentication: { audiences: [idp.origin] } })],
    });
    const channel = createLocalInvalidationChannel();
    authn = createAuthn({
      config: authnSchema.parse({}), publicOrigin: gw.url, ownIssuer: idp.idp.issuer, ownJwks: () => idp.idp.publicJwks(),
      principals: idp.idp.directory, revokedTokens: new MemoryRevokedTokenStore(), sessionStore: new MemorySessionStore(), loginStore: new MemoryLoginStateStore(),
      onInvalidate: channel.onInvalidate, publish: channel.publish,
    });
    await authn.start();
    config = await oidc.discovery(new URL(idp.origin), 'svc-dpop', secret!, undefined, { [oidc.customFetch]: idp.fetch as oidc.CustomFetch });
    // The test gateway listens on plain HTTP on loopback.
    oidc.allowInsecureRequests(config);
    dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, {}, { DPoP: dpop });
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    accessToken = tokens.access_token;
  });
  after(async () => { authn?.close(); await gw?.close(); await idp?.close(); });

  it('accepts the IdP\'s DPoP-bound token with openid-client\'s proofs, request after request', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await oidc.fetchProtectedResource(config, accessToken, new URL(`${gw.url}/items?i=${i}`), 'GET', undefined, new Headers({ 'x-test-route': 'api' }), { DPoP: dpop });
      assert.equal(res.status, 200, await res.clone().text());
      const identity = await res.json() as { subject: string; method: string; kind: string };
      assert.equal(identity.subject, 'svc-dpop');
      assert.equal(identity.method, 'dpop');
    }
  });

  it('refuses the same token sent as a plain bearer token', async () => {
    const r = await call(`${gw.url}/items`, { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(r.body?.error?.code, 'ERR_AUTHN_DPOP_REQUIRED');
  });
});
