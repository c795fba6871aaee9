/**
 * Account takeover by Unicode case folding: `String#toLowerCase` maps KELVIN SIGN (U+212A)
 * onto the ASCII "k". An external provider that verifies "\u212Aevin@example.com" (a mailbox of
 * its own, or a username its users pick, as a different address from kevin@example.com) vouched
 * for that address only. Before, Gatehouse lower-cased it to kevin@example.com, linked the
 * external identity to Kevin's pre-registered account and signed its holder in as Kevin; with
 * `jit` it provisioned an account that Gatehouse's own ID tokens then name kevin@example.com
 * (verified) to every relying party, and the real owner of that address could never sign in. Now an address that case-folds other than by its ASCII
 * letters is refused (ERR_IDENTITY_FEDERATION_NOT_ALLOWED, audited); ASCII case still folds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig } from './support/flows.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig, federatedSignIn } from './support/federated-sign-in.ts';

const KELVIN = '\u212A';

describe('federation: e-mail addresses that Unicode case folding would turn into another', () => {
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;
  let users: IdentityUsersRepo;

  before(async () => {
    op = await startFakeOp();
    h = await startHarness('sqlite', {
      federation: { ext: fakeProviderConfig(op.issuer) },
    });
    await h.idp.accounts.addUser({ username: 'kevin', email: 'kevin@example.com', emailVerified: true, roles: ['finance'] });
    await h.idp.accounts.addUser({ username: 'lena', email: 'lena@example.com', emailVerified: true });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
    users = new IdentityUsersRepo(h.store.db);
  });
  after(async () => { await h?.close(); await op?.close(); });

  /** A federated sign-in in which the provider vouches for `email` (verified) of external subject `sub`; returns Gatehouse's last answer. */
  function signIn(sub: string, email: string) {
    return federatedSignIn(h, config, op, { sub, claims: { email, email_verified: true, groups: [] } });
  }

  it('refuses an address with a KELVIN SIGN that lower-cases onto a registered account\'s: ERR_IDENTITY_FEDERATION_NOT_ALLOWED, audited, not linked', async () => {
    const r = await signIn('mallory-1', `${KELVIN}evin@example.com`);
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_NOT_ALLOWED/);
    assert.equal(r.location, undefined);
    assert.equal(await users.findLinkedUser('ext', 'mallory-1'), undefined, 'Kevin\'s account is not linked to the provider\'s other mailbox');
    assert.ok(h.events.some((e) => e.name === 'identity.login.failed' && e.payload.reason === 'federation' && e.payload.federatedProvider === 'ext'));
  });

  it('does not provision an account for such an address either (jit): no karl@example.com for the provider\'s other mailbox', async () => {
    const r = await signIn('mallory-2', `${KELVIN}arl@example.com`);
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_NOT_ALLOWED/);
    assert.equal(await users.findLinkedUser('ext', 'mallory-2'), undefined);
    assert.equal(await users.findByEmail('karl@example.com'), undefined);
  });

  it('still folds ASCII case: LENA@Example.COM links lena@example.com (control)', async () => {
    const r = await signIn('lena-ext', 'LENA@Example.COM');
    assert.ok(r.location?.startsWith(REDIRECT), `${r.status} ${r.body.slice(0, 200)}`);
    assert.equal((await users.findLinkedUser('ext', 'lena-ext'))?.username, 'lena');
  });
});
