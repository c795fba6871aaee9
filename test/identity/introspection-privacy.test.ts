/**
 * Token introspection (RFC 7662) reveals a token only to the client it was issued to, and
 * never reports a token of a disabled user as active. openid-client is the caller.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { loginAndExchange, PASSWORD, REDIRECT, rpConfig } from './support/flows.ts';

describe('introspection privacy', () => {
  let h: Harness;
  let webapp: oidc.Configuration;
  let otherApp: oidc.Configuration;
  let service: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite');
    await h.idp.accounts.addUser({ username: 'alice', email: 'alice@example.com', emailVerified: true, password: PASSWORD, roles: ['mail:admin'] });
    await h.idp.accounts.addUser({ username: 'dan', password: PASSWORD, roles: ['mail:user'] });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    webapp = await rpConfig(h, 'webapp', app.secret!);
    const other = await h.idp.accounts.addClient({ clientId: 'otherapp', kind: 'app', redirectUris: ['https://other.example/cb'] });
    otherApp = await rpConfig(h, 'otherapp', other.secret!);
    const svc = await h.idp.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] });
    service = await rpConfig(h, 'billing', svc.secret!);
  });
  after(() => h?.close());

  it("answers another app's introspection of a user's access token with active: false (no subject, roles or scope leak)", async () => {
    const { tokens } = await loginAndExchange(h, webapp, 'alice');
    const seen = await oidc.tokenIntrospection(otherApp, tokens.access_token);
    assert.deepEqual(seen, { active: false });
    assert.equal((await oidc.tokenIntrospection(webapp, tokens.access_token)).active, true, 'its own client still sees it');
  });

  it("answers a service account's introspection of a user's refresh token with active: false", async () => {
    const { tokens } = await loginAndExchange(h, webapp, 'alice');
    assert.deepEqual(await oidc.tokenIntrospection(service, tokens.refresh_token!), { active: false });
    assert.deepEqual(await oidc.tokenIntrospection(otherApp, tokens.refresh_token!), { active: false });
    assert.equal((await oidc.tokenIntrospection(webapp, tokens.refresh_token!)).active, true);
  });

  it('reports the access and refresh tokens of a disabled user as inactive (as userinfo and refresh already refuse them)', async () => {
    const { tokens } = await loginAndExchange(h, webapp, 'dan');
    assert.equal((await oidc.tokenIntrospection(webapp, tokens.access_token)).active, true);
    await h.idp.accounts.setUserDisabled('dan', true);
    assert.deepEqual(await oidc.tokenIntrospection(webapp, tokens.access_token), { active: false });
    assert.deepEqual(await oidc.tokenIntrospection(webapp, tokens.refresh_token!), { active: false });
  });
});
