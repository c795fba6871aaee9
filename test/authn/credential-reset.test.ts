/**
 * An administrator resets a user's password or MFA, or disables the user: every sign-in made
 * until then is over at the gateway too — its browser sessions and the access tokens the
 * identity provider issued before — not only at the provider. Someone who stole a session
 * cookie or an access token keeps nothing once the credentials are reset, and enabling the
 * user again does not bring the old sessions back. The check rests on the provider's stored
 * sign-out time, so it holds on an instance that missed the `principal.changed` event.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { IdentityClientsRepo } from '../../src/store/repos/identity-clients-repo.ts';
import { createAuthnSessionRepo } from '../../src/store/repos/authn-sessions-repo.ts';
import { createKvRepo } from '../../src/store/repos/kv-repo.ts';
import { AccountService } from '../../src/identity/accounts/account-service.ts';
import { SignOutCutoffs } from '../../src/identity/accounts/sign-out-cutoff.ts';
import { createPrincipalDirectory } from '../../src/identity/accounts/principal-directory.ts';
import { createLocalInvalidationChannel } from '../../src/authn/local-invalidation.ts';
import { SessionManager } from '../../src/authn/session/session-manager.ts';
import { call } from './support/harness.ts';
import { createSetup, sign, ORIGIN, type Setup } from './support/setup.ts';

describe('access tokens issued before a credential reset', () => {
  let s: Setup;
  before(async () => { s = await createSetup(); });
  after(async () => { await s.close(); });

  it('refuses an access token of Gatehouse\'s issuer issued before the user\'s password or MFA was reset (ERR_AUTHN_TOKEN_REVOKED), cached or not, and accepts one issued after', async () => {
    const now = Math.floor(Date.now() / 1000);
    s.directory.add({ subject: 'usr_reset', roles: ['reader'] });
    const stolen = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'usr_reset', iat: now - 30 });
    const unseen = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'usr_reset', iat: now - 20, jti: 'unseen' });
    assert.equal((await call(s.harness.url, { headers: { authorization: `Bearer ${stolen}` } })).status, 200, 'cached before the reset');
    await s.directory.signOut('usr_reset', now - 5);
    for (const token of [stolen, unseen]) {
      const r = await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 401);
      assert.equal(r.body?.error?.code, 'ERR_AUTHN_TOKEN_REVOKED', JSON.stringify(r.body));
    }
    const fresh = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'usr_reset', iat: now });
    assert.equal((await call(s.harness.url, { headers: { authorization: `Bearer ${fresh}` } })).status, 200, 'a sign-in after the reset');
  });
});

describe('gateway sessions signed in before a credential reset', () => {
  let dir: string;
  let store: Store;
  let accounts: AccountService;
  let manager: SessionManager;
  let directory: ReturnType<typeof createPrincipalDirectory>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-reset-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    const users = new IdentityUsersRepo(store.db);
    const clients = new IdentityClientsRepo(store.db);
    const cutoffs = new SignOutCutoffs(createKvRepo(store.db), 14 * 86_400);
    // The event goes nowhere: the gateway must not depend on it.
    accounts = new AccountService(users, clients, () => undefined, cutoffs);
    directory = createPrincipalDirectory(users, clients, cutoffs);
    const channel = createLocalInvalidationChannel();
    manager = new SessionManager({
      store: createAuthnSessionRepo(store.db), principals: directory, onInvalidate: channel.onInvalidate, publish: channel.publish,
      idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 3600_000, touchIntervalMs: 60_000, maxCachedSessions: 100,
    });
  });
  after(async () => { manager.close(); await store.close(); rmSync(dir, { recursive: true, force: true }); });

  async function signedIn(username: string): Promise<string> {
    const user = await accounts.addUser({ username, password: 'correct horse battery staple 42', roles: ['mail:user'] });
    const { session } = await manager.create((await directory.getPrincipal(user.id))!, { issuer: ORIGIN, amr: ['pwd'], authTime: Math.floor(Date.now() / 1000) - 60 });
    await manager.authenticate(session.id);
    return session.id;
  }

  it('ends a browser session signed in before an administrator reset the password (ERR_AUTHN_SESSION_INVALID), even on an instance that missed the event', async () => {
    const id = await signedIn('victim-password');
    await accounts.setPassword('victim-password', 'another correct horse battery 43');
    await assert.rejects(manager.authenticate(id), { code: 'ERR_AUTHN_SESSION_INVALID' });
  });

  it('ends a browser session signed in before an administrator reset MFA', async () => {
    const id = await signedIn('victim-mfa');
    await accounts.resetMfa('victim-mfa');
    await assert.rejects(manager.authenticate(id), { code: 'ERR_AUTHN_SESSION_INVALID' });
  });

  it('does not bring a session back when a disabled user is enabled again', async () => {
    const id = await signedIn('victim-disabled');
    await accounts.setUserDisabled('victim-disabled', true);
    await assert.rejects(manager.authenticate(id), { code: 'ERR_AUTHN_PRINCIPAL_DISABLED' });
    await accounts.setUserDisabled('victim-disabled', false);
    await assert.rejects(manager.authenticate(id), { code: 'ERR_AUTHN_SESSION_INVALID' });
  });
});
