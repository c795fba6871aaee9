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
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD, REDIRECT, rpConfig } from './support/flows.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig, federatedSignIn } from './support/federated-sign-in.ts';


describe('federation: email_verified belongs to the address it came with', () => {
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    op = await startFakeOp();
    h = await startHarness('sqlite', {
      federation: { ext: fakeProviderConfig(op.issuer) },
    });
    await h.idp.accounts.addUser({ username: 'victim', email: 'victim@example.com', emailVerified: true, password: PASSWORD });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); await op?.close(); });

  function signInWith(sub: string, idTokenClaims: Record<string, unknown>, userinfo: Record<string, unknown>) {
    op.userinfo = { sub, ...userinfo };
    return federatedSignIn(h, config, op, { sub, claims: idTokenClaims });
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
