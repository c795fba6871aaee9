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
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig } from './support/flows.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig, federatedSignIn } from './support/federated-sign-in.ts';

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
      federation: { ext: fakeProviderConfig(op.issuer, { allowedEmailDomains: [] }) },
    });
    await h.idp.accounts.addUser({ username: 'victim', email: VICTIM, emailVerified: true, roles: ['admin'] });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
    users = new IdentityUsersRepo(h.store.db);
  });
  after(async () => { await h?.close(); await op?.close(); });

  it('refuses the victim\'s 256-character address followed by .evil.test: ERR_IDENTITY_FEDERATION_NOT_ALLOWED, not linked', async () => {
    assert.equal(VICTIM.length, 256);
    const r = await federatedSignIn(h, config, op, { sub: 'mallory', claims: { email: `${VICTIM}.evil.test`, email_verified: true, groups: [] } });
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_NOT_ALLOWED/);
    assert.equal(r.location, undefined);
    assert.equal(await users.findLinkedUser('ext', 'mallory'), undefined);
  });
});
