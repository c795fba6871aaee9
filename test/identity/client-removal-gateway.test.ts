/**
 * Removing or disabling an OAuth client ends everything issued to it, at the identity provider
 * and at the gateway. Before, `removeClient` deleted the client and left its grants: the JWT
 * access tokens it had been issued (for users through an app, or its own client-credentials
 * tokens) were accepted by the gateway until `exp`, a WebSocket tunnel opened with one stayed
 * open, a disabled client's refresh tokens and access tokens came back to life when it was
 * enabled again, and a service client registered again under the same id made its predecessor's
 * tokens good again. Everything runs in one real, composed Gatehouse (IdP + gateway over one
 * store and the in-process bus) over real TLS, with openid-client as the relying party.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import type { IdentityProvider } from '../../src/identity/identity-provider.ts';
import { Browser } from './support/browser.ts';
import { followToCallback, PASSWORD, REDIRECT, startAuth, submitLogin } from './support/flows.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';
import { openWebSocketTunnel, startEchoWebSocketUpstream, waitFor, type EchoUpstream } from '../support/websocket-tunnel.ts';

describe('removing or disabling a client ends what was issued to it', () => {
  let upstream: TestUpstream;
  let wsUpstream: EchoUpstream;
  let gw: IdpGateway;
  let idp: IdentityProvider;

  before(async () => {
    upstream = await startUpstream();
    wsUpstream = await startEchoWebSocketUpstream();
    gw = await startIdpGateway({
      upstreams: { app: { url: upstream.url }, ws: { url: wsUpstream.url } },
      routes: [
        { id: 'api', path: '/api', upstream: 'app', access: 'authenticated', authentication: { methods: ['jwt'] } },
        { id: 'ws', path: '/ws', upstream: 'ws', access: 'authenticated', authentication: { methods: ['jwt'] }, websocket: true },
      ],
      detect: { refreshReuse: { enabled: false } },
    });
    // The provider's own account service (as `gatehouse client remove` uses it), not the test's bare one.
    idp = identityProviderOf(gw.gw.gateway.extensions)!;
    await idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user'] });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    wsUpstream?.close();
  });

  async function addApp(clientId: string): Promise<oidc.Configuration> {
    const { secret } = await idp.accounts.addClient({ clientId, kind: 'app', redirectUris: [REDIRECT] });
    return discover(gw, clientId, secret!);
  }

  /** Signs alice in to the app; `resource` set: a JWT access token for the gateway, else an opaque one. */
  async function signIn(config: oidc.Configuration, resource?: string): Promise<oidc.TokenEndpointResponse> {
    const start = await startAuth(gw, config, 'openid offline_access', new Browser(gw.fetch), resource ? { resource } : {});
    const callback = await followToCallback(gw, start, (await submitLogin(gw, start, 'alice', PASSWORD)).location);
    return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  }

  /** The gateway's answer to a bearer token on a protected route: 200, or the error code. */
  async function atGateway(token: string): Promise<number | string> {
    const res = await gw.fetch(`${PUBLIC_URL}/api/inbox`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    return res.status === 200 ? 200 : (JSON.parse(body) as { error: { code: string } }).error.code;
  }

  async function jwtFor(config: oidc.Configuration): Promise<{ jwt: string; refresh: string }> {
    const tokens = await signIn(config, PUBLIC_URL);
    assert.equal(decodeJwt(tokens.access_token).aud, PUBLIC_URL);
    assert.equal(await atGateway(tokens.access_token), 200, 'accepted before');
    return { jwt: tokens.access_token, refresh: tokens.refresh_token! };
  }

  const openTunnel = (token: string) => openWebSocketTunnel(gw.gw.gateway.addresses().https.port, wsUpstream, '/ws', { origin: PUBLIC_URL, authorization: `Bearer ${token}` });

  it("refuses a removed app's JWT access tokens at the gateway, and its refresh and opaque access tokens at the token, userinfo and introspection endpoints, also once the id is registered again (attack: tokens of a decommissioned app)", async () => {
    const config = await addApp('webapp-removed');
    const { jwt, refresh } = await jwtFor(config);
    const opaque = await signIn(config);
    const other = await addApp('webapp-kept');
    const kept = await jwtFor(other);
    await idp.accounts.removeClient('webapp-removed');
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED');
    assert.equal(await atGateway(kept.jwt), 200, "another client's token is not touched");
    assert.ok(await oidc.refreshTokenGrant(other, kept.refresh), "another client's refresh token is not touched");
    await assert.rejects(oidc.fetchUserInfo(config, opaque.access_token, oidc.skipSubjectCheck), (e: any) => e.status === 401 || e.error === 'invalid_token');
    const again = await addApp('webapp-removed');
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED', 'the new registration does not revive it');
    // Nor anything else issued to the removed registration, asked by the new one.
    for (const token of [refresh, opaque.refresh_token!]) await assert.rejects(oidc.refreshTokenGrant(again, token), (e: any) => e.error === 'invalid_grant');
    for (const token of [opaque.access_token, opaque.refresh_token!]) assert.equal((await oidc.tokenIntrospection(again, token)).active, false);
    await assert.rejects(oidc.fetchUserInfo(again, opaque.access_token, oidc.skipSubjectCheck), (e: any) => e.status === 401 || e.error === 'invalid_token');
    assert.equal(await atGateway((await jwtFor(again)).jwt), 200, 'what the new registration gets is good');
  });

  it("closes a WebSocket tunnel opened with a removed app's JWT access token (attack: keeping a channel of a decommissioned app)", async () => {
    const config = await addApp('webapp-tunnel');
    const { jwt } = await jwtFor(config);
    const other = await jwtFor(await addApp('webapp-tunnel-kept'));
    const tunnel = await openTunnel(jwt);
    const kept = await openTunnel(other.jwt);
    await idp.accounts.removeClient('webapp-tunnel');
    assert.ok(await waitFor(() => tunnel.clientClosed() && tunnel.upstreamClosed(), 5000), 'the tunnel is closed on both sides');
    assert.equal(kept.clientClosed(), false, "another client's tunnel stays open");
    kept.client.destroy();
  });

  it("ends a disabled app's refresh tokens, access tokens and JWTs for good: enabling it again revives none (attack: a suspended app's tokens outliving the suspension)", async () => {
    const config = await addApp('webapp-disabled');
    const { jwt, refresh } = await jwtFor(config);
    const opaque = await signIn(config);
    await idp.accounts.setClientDisabled('webapp-disabled', true);
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED');
    await idp.accounts.setClientDisabled('webapp-disabled', false);
    assert.equal(await atGateway(jwt), 'ERR_AUTHN_TOKEN_REVOKED');
    await assert.rejects(oidc.refreshTokenGrant(config, refresh), (e: any) => e.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(config, opaque.refresh_token!), (e: any) => e.error === 'invalid_grant');
    await assert.rejects(oidc.fetchUserInfo(config, opaque.access_token, oidc.skipSubjectCheck), (e: any) => e.status === 401 || e.error === 'invalid_token');
    assert.equal((await oidc.tokenIntrospection(config, opaque.access_token)).active, false);
    assert.equal((await oidc.tokenIntrospection(config, opaque.refresh_token!)).active, false);
    // Signing in again works.
    assert.equal(await atGateway((await jwtFor(config)).jwt), 200);
  });

  it("refuses a removed service client's client-credentials JWTs, also once its id is registered again (attack: a service's old tokens standing for its successor)", async () => {
    const first = await idp.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] });
    const token = (await oidc.clientCredentialsGrant(await discover(gw, 'billing', first.secret!))).access_token;
    assert.equal(await atGateway(token), 200, 'accepted before');
    await idp.accounts.removeClient('billing');
    assert.notEqual(await atGateway(token), 200);
    const second = await idp.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] });
    assert.equal(await atGateway(token), 'ERR_AUTHN_TOKEN_REVOKED', 'the new registration does not revive it');
    const fresh = (await oidc.clientCredentialsGrant(await discover(gw, 'billing', second.secret!))).access_token;
    assert.equal(await atGateway(fresh), 200);
  });

  it("refuses a disabled service client's client-credentials JWTs after it is enabled again", async () => {
    const { secret } = await idp.accounts.addClient({ clientId: 'ledger', kind: 'service', roles: ['ledger:svc'] });
    const config = await discover(gw, 'ledger', secret!);
    const token = (await oidc.clientCredentialsGrant(config)).access_token;
    assert.equal(await atGateway(token), 200, 'accepted before');
    await idp.accounts.setClientDisabled('ledger', true);
    assert.notEqual(await atGateway(token), 200);
    await idp.accounts.setClientDisabled('ledger', false);
    assert.equal(await atGateway(token), 'ERR_AUTHN_TOKEN_REVOKED');
    assert.equal(await atGateway((await oidc.clientCredentialsGrant(config)).access_token), 200);
  });
});
