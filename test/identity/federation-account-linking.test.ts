/**
 * Linking a federated identity to an existing Gatehouse account by verified e-mail. Whoever
 * controls a second account with the same verified address — at the same provider (an
 * address recycled or reassigned there) or at another configured provider — must not take
 * over an account that already signs in with its own external identity.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { startHarness, type Backend, type Harness } from './support/harness.ts';
import { followToCallback, PASSWORD, REDIRECT, rpConfig, startAuth } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';

for (const backend of ['sqlite', 'postgres'] as Backend[]) describe(`federation: linking accounts by verified e-mail (${backend})`, () => {
  let ext: Harness;
  let h: Harness;
  let config: oidc.Configuration;
  let localUsers: IdentityUsersRepo;

  before(async () => {
    ext = await startHarness('sqlite');
    for (const name of ['gina', 'hal', 'ivy']) {
      await ext.idp.accounts.addUser({ username: name, email: `${name}@example.com`, emailVerified: true, password: PASSWORD });
    }
    const provider = (clientId: string, extra: Record<string, unknown> = {}) => ({
      issuer: ext.origin, clientId, clientSecretEnv: `GH_TEST_LINK_${clientId.toUpperCase()}`, provisioning: 'jit' as const,
      allowedEmailDomains: ['example.com'], scopes: ['openid', 'email'], ...extra,
    });
    h = await startHarness(backend, {
      federation: { corp: provider('corp'), partner: provider('partner'), trusted: provider('trusted', { crossProviderLinking: true }) },
    });
    for (const name of ['corp', 'partner', 'trusted']) {
      const rp = await ext.idp.accounts.addClient({ clientId: name, kind: 'app', redirectUris: [`${h.origin}/oidc/federation/callback/${name}`] });
      process.env[`GH_TEST_LINK_${name.toUpperCase()}`] = rp.secret!;
    }
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
    localUsers = new IdentityUsersRepo(h.store.db);
  });
  after(async () => { await h?.close(); await ext?.close(); });

  /** The whole federated sign-in as `username` at the external provider; returns the final response at Gatehouse. */
  async function federatedLogin(username: string, provider: string) {
    const start = await startAuth(h, config);
    const go = await start.browser.request(new URL(formAction(start.loginPage, `federated/${provider}`)!, h.origin), { form: { csrf: inputValue(start.loginPage, 'csrf')! } });
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

  const externalSub = async (username: string) => (await ext.idp.accounts.findUser(username))!.id;
  const refusals = () => h.events.filter((e) => e.name === 'identity.login.failed' && e.payload.reason === 'federation_link_conflict');

  it('refuses a second identity of the same provider with the account\'s verified e-mail (address reassigned there): ERR_IDENTITY_FEDERATION_LINK_CONFLICT, audited, not linked', async () => {
    const first = await federatedLogin('gina', 'corp');
    await followToCallback(h, first.start, first.final.location);
    const account = await h.idp.accounts.findUser('gina@example.com');
    assert.ok(account);
    // At the provider the address moves to another account (recycled mailbox, renamed user …).
    const extUsers = new IdentityUsersRepo(ext.store.db);
    await extUsers.update(await externalSub('gina'), { email: 'gina-old@example.com' });
    await ext.idp.accounts.addUser({ username: 'mallory', email: 'gina@example.com', emailVerified: true, password: PASSWORD });

    const { final } = await federatedLogin('mallory', 'corp');
    assert.equal(final.status, 403);
    assert.match(final.body, /ERR_IDENTITY_FEDERATION_LINK_CONFLICT/);
    assert.doesNotMatch(final.body, /usr_/);
    assert.equal(await localUsers.findLinkedUser('corp', await externalSub('mallory')), undefined);
    const event = refusals().at(-1);
    assert.equal(event?.payload.subject, account.id);
    assert.equal(event?.payload.federatedProvider, 'corp');
    // The rightful identity still signs in.
    const again = await federatedLogin('gina', 'corp');
    assert.ok((await followToCallback(h, again.start, again.final.location)).searchParams.get('code'));
  });

  it('refuses by default to link an account already linked to another provider (cross-provider linking is opt-in)', async () => {
    const first = await federatedLogin('hal', 'corp');
    await followToCallback(h, first.start, first.final.location);
    const account = (await h.idp.accounts.findUser('hal@example.com'))!;
    const before = refusals().length;

    const { final } = await federatedLogin('hal', 'partner');
    assert.equal(final.status, 403);
    assert.match(final.body, /ERR_IDENTITY_FEDERATION_LINK_CONFLICT/);
    assert.equal(await localUsers.findLinkedUser('partner', await externalSub('hal')), undefined);
    assert.equal(refusals().length, before + 1);
    assert.equal(refusals().at(-1)?.payload.subject, account.id);
  });

  it('links an account linked to another provider when this provider opts in (crossProviderLinking), but never a second identity of one provider', async () => {
    const { start, final } = await federatedLogin('hal', 'trusted');
    assert.ok((await followToCallback(h, start, final.location)).searchParams.get('code'));
    assert.equal((await localUsers.findLinkedUser('trusted', await externalSub('hal')))?.email, 'hal@example.com');

    // Opt-in or not, one provider gives an account one identity.
    await new IdentityUsersRepo(ext.store.db).update(await externalSub('hal'), { email: 'hal-old@example.com' });
    await ext.idp.accounts.addUser({ username: 'hal2', email: 'hal@example.com', emailVerified: true, password: PASSWORD });
    const second = await federatedLogin('hal2', 'trusted');
    assert.equal(second.final.status, 403);
    assert.match(second.final.body, /ERR_IDENTITY_FEDERATION_LINK_CONFLICT/);
  });

  it('still links a pre-registered account without any external identity at its first federated sign-in', async () => {
    const local = await h.idp.accounts.addUser({ username: 'ivy', email: 'ivy@example.com', emailVerified: true });
    const { start, final } = await federatedLogin('ivy', 'partner');
    assert.ok((await followToCallback(h, start, final.location)).searchParams.get('code'));
    assert.equal((await localUsers.findLinkedUser('partner', await externalSub('ivy')))?.id, local.id);
  });
});
