/**
 * `email_verified` says that one address was verified, not whichever address ends up used.
 * An external provider whose ID token names an address without saying whether it is verified
 * (and whose userinfo is asked, here because the role claim is missing from the ID token) must
 * not have userinfo's verification of another address applied to the ID token's address:
 * that would link, and sign in as, the Gatehouse account that owns the unverified address.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { SignJWT } from 'jose';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig, startAuth } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';

const CLIENT_ID = 'gatehouse-at-ext';

describe('federation: email_verified belongs to the address it came with', () => {
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    op = await startFakeOp();
    h = await startHarness('sqlite', {
      federation: { ext: { issuer: op.issuer, clientId: CLIENT_ID, clientSecret: 'ext-secret', provisioning: 'jit', allowedEmailDomains: ['example.com'], scopes: ['openid', 'email'] } },
    });
    await h.idp.accounts.addUser({ username: 'victim', email: 'victim@example.com', emailVerified: true, password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); await op?.close(); });

  async function signInWith(sub: string, idTokenClaims: Record<string, unknown>, userinfo: Record<string, unknown>) {
    const start = await startAuth(h, config);
    const go = await start.browser.request(new URL(formAction(start.loginPage, 'federated/ext')!, h.origin), { form: { csrf: inputValue(start.loginPage, 'csrf')! } });
    const request = new URL(go.location!);
    const nonce = request.searchParams.get('nonce')!;
    op.userinfo = { sub, ...userinfo };
    op.tokenResponse = async () => {
      const now = Math.floor(Date.now() / 1000);
      // auth_time: startAuth asks for prompt=login, which the provider must show it honoured.
      const idToken = await new SignJWT({ nonce, auth_time: now, ...idTokenClaims })
        .setProtectedHeader({ alg: 'ES256', kid: 'op-1' })
        .setIssuer(op.issuer).setAudience(CLIENT_ID).setSubject(sub).setIssuedAt(now).setExpirationTime(now + 300)
        .sign(op.key);
      return { status: 200, body: { access_token: 'at-1', token_type: 'Bearer', expires_in: 300, id_token: idToken } };
    };
    const callback = new URL(request.searchParams.get('redirect_uri')!);
    callback.search = new URLSearchParams({ code: 'code-1', state: request.searchParams.get('state')! }).toString();
    let r = await start.browser.request(callback);
    for (let hops = 0; r.location?.startsWith(h.origin) && hops < 4; hops++) r = await start.browser.request(r.location);
    return r;
  }

  it('refuses an ID token with an unverified victim address when userinfo verifies another address: ERR_IDENTITY_FEDERATION_NOT_ALLOWED, victim not linked', async () => {
    const r = await signInWith('ext-mallory', { email: 'victim@example.com' }, { email: 'mallory@example.com', email_verified: true, groups: [] });
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_NOT_ALLOWED/);
    assert.equal(r.location, undefined);
    const victim = (await h.idp.accounts.findUser('victim'))!;
    assert.equal(await new IdentityUsersRepo(h.store.db).findLinkedUser('ext', 'ext-mallory'), undefined);
    assert.ok(!h.events.some((e) => e.name === 'identity.login.succeeded' && e.payload.subject === victim.id));
  });

  it('accepts userinfo\'s email_verified for the same address the ID token names (control)', async () => {
    const r = await signInWith('ext-carol', { email: 'carol@example.com' }, { email: 'carol@example.com', email_verified: true, groups: [] });
    assert.ok(r.location?.startsWith(REDIRECT), `${r.status} ${r.body.slice(0, 200)}`);
    assert.ok(await h.idp.accounts.findUser('carol@example.com'));
  });
});
