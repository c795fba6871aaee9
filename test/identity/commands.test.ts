/** The command functions behind `gatehouse user|client|token|keys`. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './support/harness.ts';
import * as cmd from '../../src/identity/commands/index.ts';

describe('identity commands', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite'); });
  after(() => h?.close());

  it('adds, lists, disables, enables users and refuses duplicates and weak passwords', async () => {
    const u = await cmd.userAdd(h.idp, { username: 'Alice', email: 'alice@example.com', password: 'correct horse battery', roles: ['admin'] });
    assert.equal(u.username, 'alice');
    await assert.rejects(cmd.userAdd(h.idp, { username: 'alice' }), { code: 'ERR_IDENTITY_USER_EXISTS' });
    await assert.rejects(cmd.userAdd(h.idp, { username: 'bob', password: 'short' }), { code: 'ERR_IDENTITY_PASSWORD_WEAK' });
    assert.equal((await cmd.userDisable(h.idp, 'alice')).disabled, true);
    assert.equal((await cmd.userEnable(h.idp, 'alice@example.com')).disabled, false);
    assert.deepEqual((await cmd.userList(h.idp)).map((x) => x.username), ['alice']);
    await cmd.userSetPassword(h.idp, 'alice', 'another long passphrase');
    await cmd.userResetMfa(h.idp, 'alice');
    await assert.rejects(cmd.userDisable(h.idp, 'nobody'), { code: 'ERR_IDENTITY_USER_NOT_FOUND' });
  });

  it('adds a service client with a hashed secret, rotates it and removes the client', async () => {
    const { client, secret } = await cmd.clientAdd(h.idp, { clientId: 'billing', kind: 'service', roles: ['svc'] });
    assert.match(secret!, /^ghcs_/);
    assert.equal(client.authMethod, 'client_secret_basic');
    const row = await h.store.db.selectFrom('identity_clients').selectAll().where('client_id', '=', 'billing').executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes(secret!), 'secret not stored in clear');
    const rotated = await cmd.clientRotateSecret(h.idp, 'billing');
    assert.notEqual(rotated.secret, secret);
    assert.deepEqual((await cmd.clientList(h.idp)).map((c) => c.clientId), ['billing']);
    await cmd.clientRemove(h.idp, 'billing');
    await assert.rejects(cmd.clientRemove(h.idp, 'billing'), { code: 'ERR_IDENTITY_CLIENT_NOT_FOUND' });
  });

  it('refuses an app with an http redirect URI to a non-local host', async () => {
    await assert.rejects(cmd.clientAdd(h.idp, { clientId: 'web', kind: 'app', redirectUris: ['http://app.example/cb'] }), { code: 'ERR_IDENTITY_INPUT_INVALID' });
  });

  it('refuses an app whose scopes leave out openid (every sign-in of it would fail with invalid_client_metadata), and stores nothing', async () => {
    await assert.rejects(
      cmd.clientAdd(h.idp, { clientId: 'mailer', kind: 'app', redirectUris: ['https://app.example/cb'], allowedScopes: ['mail:read'] }),
      (err: { code?: string; publicMessage?: string }) => err.code === 'ERR_IDENTITY_INPUT_INVALID' && /openid/.test(err.publicMessage ?? ''),
    );
    assert.deepEqual((await cmd.clientList(h.idp)).filter((c) => c.clientId === 'mailer'), []);
    const { client } = await cmd.clientAdd(h.idp, { clientId: 'mailer', kind: 'app', redirectUris: ['https://app.example/cb'], allowedScopes: ['openid', 'mail:read'] });
    assert.deepEqual(client.allowedScopes, ['openid', 'mail:read']);
    await cmd.clientRemove(h.idp, 'mailer');
  });

  it('creates, lists and revokes API tokens by owner name', async () => {
    const t = await cmd.tokenCreate(h.idp, { owner: 'alice', name: 'ci', roles: ['admin'], lifetimeDays: 7 });
    assert.equal((await cmd.tokenList(h.idp, 'alice'))[0]!.tokenId, t.tokenId);
    await cmd.tokenRevoke(h.idp, t.tokenId);
    assert.ok((await cmd.tokenList(h.idp, 'alice'))[0]!.revokedAt);
  });

  it('rotates keys with an EdDSA key on request', async () => {
    const r = await cmd.keysRotate(h.idp, 'EdDSA');
    const jwks = await (await h.fetch(`${h.origin}/oidc/jwks`)).json() as { keys: { kid: string; alg: string }[] };
    assert.equal(jwks.keys[0]!.kid, r.kid);
    assert.equal(jwks.keys[0]!.alg, 'EdDSA');
  });
});
