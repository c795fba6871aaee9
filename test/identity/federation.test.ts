/**
 * Federation against a second, real Gatehouse identity provider acting as the external
 * OpenID provider (its own store, keys and HTTPS server).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { startHarness, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';

describe('federation with an external OpenID provider', () => {
  let ext: Harness;
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    ext = await startHarness('sqlite');
    await ext.idp.accounts.addUser({ username: 'erin', email: 'erin@example.com', emailVerified: true, password: PASSWORD, roles: ['staff'] });
    await ext.idp.accounts.addUser({ username: 'eve', email: 'eve@evil.example', emailVerified: true, password: PASSWORD });
    await ext.idp.accounts.addUser({ username: 'uma', email: 'uma@example.com', emailVerified: false, password: PASSWORD });
    await ext.idp.accounts.addUser({ username: 'fay', email: 'fay@example.com', emailVerified: true, password: PASSWORD, roles: ['staff'] });
    h = await startHarness('sqlite', {
      federation: {
        corp: {
          issuer: ext.origin, clientId: 'gatehouse-a', clientSecretEnv: 'GH_TEST_FED_SECRET', provisioning: 'jit',
          allowedEmailDomains: ['example.com'], roleClaim: 'roles', roleMapping: { staff: ['mail:user'] }, scopes: ['openid', 'email', 'roles'],
        },
        legacy: {
          issuer: ext.origin, clientId: 'gatehouse-legacy', clientSecretEnv: 'GH_TEST_FED_SECRET_LEGACY', provisioning: 'jit', syncRoles: false,
          allowedEmailDomains: ['example.com'], roleClaim: 'roles', roleMapping: { staff: ['mail:user'] }, scopes: ['openid', 'email', 'roles'],
        },
      },
    });
    const rp = await ext.idp.accounts.addClient({ clientId: 'gatehouse-a', kind: 'app', redirectUris: [`${h.origin}/oidc/federation/callback/corp`] });
    process.env.GH_TEST_FED_SECRET = rp.secret!;
    const legacy = await ext.idp.accounts.addClient({ clientId: 'gatehouse-legacy', kind: 'app', redirectUris: [`${h.origin}/oidc/federation/callback/legacy`] });
    process.env.GH_TEST_FED_SECRET_LEGACY = legacy.secret!;
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); await ext?.close(); });

  /** Runs the whole federated sign-in; returns the final response at Gatehouse A. */
  async function federatedLogin(username: string, provider = 'corp') {
    const start = await startAuth(h, config);
    const go = await start.browser.request(new URL(formAction(start.loginPage, `federated/${provider}`)!, h.origin), { form: { csrf: inputValue(start.loginPage, 'csrf')! } });
    assert.equal(go.status, 303);
    assert.ok(go.location!.startsWith(`${ext.origin}/oidc/auth?`));
    // At the external provider, in the same browser.
    const first = await start.browser.request(go.location!);
    const page = await start.browser.request(first.location!);
    let r = await start.browser.request(new URL(formAction(page.body, 'login')!, ext.origin), { form: { csrf: inputValue(page.body, 'csrf')!, username, password: PASSWORD } });
    let hops = 0;
    while (r.location && r.location.startsWith(ext.origin) && hops++ < 8) r = await start.browser.request(r.location);
    assert.ok(r.location!.startsWith(`${h.origin}/oidc/federation/callback/${provider}?`), r.location);
    const back = await start.browser.request(r.location!);
    const final = await start.browser.request(back.location!);
    return { start, final };
  }

  it('provisions a verified user of an allowed domain just in time, with mapped roles', async () => {
    const { start, final } = await federatedLogin('erin');
    const callback = await followToCallback(h, start, final.location);
    assert.ok(callback.searchParams.get('code'));
    const user = await h.idp.accounts.findUser('erin@example.com');
    assert.deepEqual(user?.roles, ['mail:user']);
    assert.ok(h.events.some((e) => e.name === 'identity.login.succeeded' && e.payload.federatedProvider === 'corp'));
  });

  it('synchronises the roles the provider manages at every sign-in: a role withdrawn there is withdrawn here, local roles stay', async () => {
    await h.idp.accounts.setUserRoles('erin@example.com', ['mail:user', 'local:extra']);
    await ext.idp.accounts.setUserRoles('erin', []);
    const withdrawn = await federatedLogin('erin');
    await followToCallback(h, withdrawn.start, withdrawn.final.location);
    assert.deepEqual((await h.idp.accounts.findUser('erin@example.com'))?.roles, ['local:extra']);
    assert.ok(h.events.some((e) => e.name === 'principal.changed' && e.payload.change === 'updated'), 'caches on every instance drop the principal');
    await ext.idp.accounts.setUserRoles('erin', ['staff']);
    const granted = await federatedLogin('erin');
    await followToCallback(h, granted.start, granted.final.location);
    assert.deepEqual((await h.idp.accounts.findUser('erin@example.com'))?.roles.sort(), ['local:extra', 'mail:user']);
  });

  it('keeps the roles mapped at provisioning when the provider has syncRoles: false', async () => {
    const first = await federatedLogin('fay', 'legacy');
    await followToCallback(h, first.start, first.final.location);
    assert.deepEqual((await h.idp.accounts.findUser('fay@example.com'))?.roles, ['mail:user']);
    await ext.idp.accounts.setUserRoles('fay', []);
    const again = await federatedLogin('fay', 'legacy');
    await followToCallback(h, again.start, again.final.location);
    assert.deepEqual((await h.idp.accounts.findUser('fay@example.com'))?.roles, ['mail:user']);
  });

  it('refuses an external user whose e-mail domain is not allowed', async () => {
    const { final } = await federatedLogin('eve');
    assert.equal(final.status, 403);
    assert.match(final.body, /ERR_IDENTITY_FEDERATION_NOT_ALLOWED/);
    assert.equal(await h.idp.accounts.findUser('eve@evil.example'), undefined);
  });

  it('refuses an external user whose e-mail is not verified', async () => {
    const { final } = await federatedLogin('uma');
    assert.equal(final.status, 403);
  });
});
