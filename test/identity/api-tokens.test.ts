/** API tokens: owner-scope enforcement, expiry, revocation, hashing at rest. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './support/harness.ts';
import { PASSWORD } from './support/flows.ts';

describe('API tokens', () => {
  let h: Harness;
  let alice: string;

  before(async () => {
    h = await startHarness('sqlite');
    alice = (await h.idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['mail:user', 'mail:admin'] })).id;
  });
  after(() => h?.close());

  it('verifies a fresh token to its owner and roles, and stores only its hash', async () => {
    const created = await h.idp.apiTokens.create({ ownerSubject: alice, name: 'ci', roles: ['mail:user'] });
    assert.match(created.token, /^ghs_[A-Za-z0-9_-]{43}$/);
    const verified = await h.idp.verifyApiToken(created.token);
    assert.equal(verified?.subject, alice);
    assert.deepEqual(verified?.roles, ['mail:user']);
    const rows = await h.store.db.selectFrom('identity_api_tokens').selectAll().execute();
    assert.ok(rows.every((r) => !JSON.stringify(r).includes(created.token)), 'the token itself is not stored');
  });

  it('does not bring a removed service account\'s API tokens back to life when a client with the same id is registered again', async () => {
    await h.idp.accounts.addClient({ clientId: 'builder', kind: 'service', roles: ['ci:deploy'] });
    const created = await h.idp.apiTokens.create({ ownerSubject: 'builder', name: 'deploy', roles: ['ci:deploy'] });
    await h.idp.accounts.removeClient('builder');
    await h.idp.accounts.addClient({ clientId: 'builder', kind: 'service', roles: ['ci:deploy'] });
    assert.deepEqual(await h.idp.inspectApiToken(created.token), { code: 'ERR_AUTHN_TOKEN_REVOKED' });
    assert.ok(h.events.some((e) => e.name === 'identity.api_token.revoked' && e.payload.tokenId === created.tokenId), 'gateway caches drop the token');
  });

  it('refuses to create a token with a role the owner does not hold (privilege escalation)', async () => {
    await assert.rejects(h.idp.apiTokens.create({ ownerSubject: alice, name: 'esc', roles: ['root'] }), { code: 'ERR_IDENTITY_API_TOKEN_SCOPE' });
  });

  it('drops a role from a token at use when the owner lost it', async () => {
    const created = await h.idp.apiTokens.create({ ownerSubject: alice, name: 'both', roles: ['mail:user', 'mail:admin'] });
    await h.idp.accounts.setUserRoles('alice', ['mail:user']);
    assert.deepEqual((await h.idp.verifyApiToken(created.token))?.roles, ['mail:user']);
    await h.idp.accounts.setUserRoles('alice', ['mail:user', 'mail:admin']);
  });

  it('refuses an expired token with ERR_AUTHN_TOKEN_EXPIRED', async () => {
    const created = await h.idp.apiTokens.create({ ownerSubject: alice, name: 'old', lifetimeDays: 1 });
    await h.store.db.updateTable('identity_api_tokens').set({ expires_at: Date.now() - 1000 }).where('id', '=', created.tokenId).execute();
    assert.deepEqual(await h.idp.inspectApiToken(created.token), { code: 'ERR_AUTHN_TOKEN_EXPIRED' });
    assert.equal(await h.idp.verifyApiToken(created.token), undefined);
  });

  it('refuses a revoked token with ERR_AUTHN_TOKEN_REVOKED and emits the event', async () => {
    const created = await h.idp.apiTokens.create({ ownerSubject: alice, name: 'gone' });
    await h.idp.apiTokens.revoke(created.tokenId);
    assert.deepEqual(await h.idp.inspectApiToken(created.token), { code: 'ERR_AUTHN_TOKEN_REVOKED' });
    assert.ok(h.events.some((e) => e.name === 'identity.api_token.revoked' && e.payload.tokenId === created.tokenId));
  });

  it('refuses every token of a disabled owner', async () => {
    const created = await h.idp.apiTokens.create({ ownerSubject: alice, name: 'off' });
    await h.idp.accounts.setUserDisabled('alice', true);
    assert.deepEqual(await h.idp.inspectApiToken(created.token), { code: 'ERR_AUTHN_PRINCIPAL_DISABLED' });
    await h.idp.accounts.setUserDisabled('alice', false);
    assert.ok(h.events.some((e) => e.name === 'principal.changed' && e.payload.change === 'disabled'));
  });

  it('refuses forged, truncated and hostile token strings without touching the store', async () => {
    for (const bad of ['ghs_', 'ghs_' + 'A'.repeat(42), 'ghs_' + 'A'.repeat(43) + '\r\n', 'Bearer ghs_x', '__proto__', 'ghs_' + '%2e'.repeat(15)]) {
      assert.deepEqual(await h.idp.inspectApiToken(bad), { code: 'ERR_AUTHN_TOKEN_INVALID' });
    }
  });
});
