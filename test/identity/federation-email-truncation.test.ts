/**
 * Account takeover by truncation: Gatehouse cut a federated e-mail address to 256 characters
 * before matching it. A registered account may have an address of exactly 256 characters
 * (64 before the "@", a long domain); whoever gets that address followed by ".evil.test" (a
 * domain they own) verified at the provider was linked to that account and signed in as its
 * user. Now an address longer than 254 characters (RFC 5321's limit) is refused
 * (ERR_IDENTITY_FEDERATION_NOT_ALLOWED), not cut.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { SignJWT } from 'jose';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig, startAuth } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';

const CLIENT_ID = 'gatehouse-at-ext';
/** 64 + 1 + 191 = 256 characters, accepted by `addUser`. */
const VICTIM = `${'v'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(59)}.com`;

describe('federation: an e-mail address longer than the victim\'s is not cut to it', () => {
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;
  let users: IdentityUsersRepo;

  before(async () => {
    op = await startFakeOp();
    h = await startHarness('sqlite', {
      federation: { ext: { issuer: op.issuer, clientId: CLIENT_ID, clientSecret: 'ext-secret', provisioning: 'jit', scopes: ['openid', 'email'] } },
    });
    await h.idp.accounts.addUser({ username: 'victim', email: VICTIM, emailVerified: true, roles: ['admin'] });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
    users = new IdentityUsersRepo(h.store.db);
  });
  after(async () => { await h?.close(); await op?.close(); });

  it('refuses the victim\'s 256-character address followed by .evil.test: ERR_IDENTITY_FEDERATION_NOT_ALLOWED, not linked', async () => {
    assert.equal(VICTIM.length, 256);
    const start = await startAuth(h, config);
    const go = await start.browser.request(new URL(formAction(start.loginPage, 'federated/ext')!, h.origin), { form: { csrf: inputValue(start.loginPage, 'csrf')! } });
    const request = new URL(go.location!);
    const nonce = request.searchParams.get('nonce')!;
    op.tokenResponse = async () => {
      const now = Math.floor(Date.now() / 1000);
      const idToken = await new SignJWT({ nonce, email: `${VICTIM}.evil.test`, email_verified: true, groups: [], auth_time: now })
        .setProtectedHeader({ alg: 'ES256', kid: 'op-1' }).setIssuer(op.issuer).setAudience(CLIENT_ID)
        .setSubject('mallory').setIssuedAt(now).setExpirationTime(now + 300).sign(op.key);
      return { status: 200, body: { access_token: 'at-1', token_type: 'Bearer', expires_in: 300, id_token: idToken } };
    };
    const callback = new URL(request.searchParams.get('redirect_uri')!);
    callback.search = new URLSearchParams({ code: 'code-1', state: request.searchParams.get('state')! }).toString();
    let r = await start.browser.request(callback);
    for (let hops = 0; r.location?.startsWith(h.origin) && hops < 4; hops++) r = await start.browser.request(r.location);
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_NOT_ALLOWED/);
    assert.equal(r.location, undefined);
    assert.equal(await users.findLinkedUser('ext', 'mallory'), undefined);
  });
});
