/**
 * Removing an app client ends what was issued to it. Its client id can be registered again
 * (by the same or another administrator, for another app); a public client (no secret) is then
 * nothing but its id, so whoever kept an old refresh token or code of the removed client would
 * otherwise use it as the new one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startHarness, type Backend, type Harness } from './support/harness.ts';
import { followToCallback, loginAndExchange, PASSWORD, REDIRECT, startAuth, submitLogin } from './support/flows.ts';

for (const backend of ['sqlite', 'postgres'] as Backend[]) describe(`removing an app client (${backend})`, () => {
  let h: Harness;

  before(async () => {
    h = await startHarness(backend);
    await h.idp.accounts.addUser({ username: 'rita', password: PASSWORD });
  });
  after(async () => { await h?.close(); });

  const addSpa = () => h.idp.accounts.addClient({ clientId: 'spa', kind: 'app', authMethod: 'none', redirectUris: [REDIRECT] });
  const discover = () => oidc.discovery(new URL(h.origin), 'spa', undefined, oidc.None(), { [oidc.customFetch]: h.fetch as oidc.CustomFetch });

  it('a refresh token of a removed client does not work for a client registered again under the same id', async () => {
    await addSpa();
    let config = await discover();
    const { tokens } = await loginAndExchange(h, config, 'rita');
    assert.ok(tokens.refresh_token);
    // An unredeemed code of the removed client, too.
    const start = await startAuth(h, config);
    const callback = await followToCallback(h, start, (await submitLogin(h, start, 'rita', PASSWORD)).location);

    await h.idp.accounts.removeClient('spa');
    // The mass revocation is on the record (audit): both sign-ins' grants.
    assert.deepEqual(h.events.filter((e) => e.name === 'identity.client.tokens_revoked').map((e) => e.payload),
      [{ clientId: 'spa', kind: 'app', reason: 'removed', grants: 2, accessTokens: 0 }]);
    await addSpa();
    config = await discover();

    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (e: any) => e.error === 'invalid_grant');
    await assert.rejects(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce }),
      (e: any) => e.error === 'invalid_grant');
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck), (e: any) => e.status === 401 || e.error === 'invalid_token');

    // The client registered again works with what is issued to it.
    const fresh = await loginAndExchange(h, config, 'rita');
    assert.ok((await oidc.refreshTokenGrant(config, fresh.tokens.refresh_token!)).access_token);
  });
});
