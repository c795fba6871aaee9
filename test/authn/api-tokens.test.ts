/** `ghs_` API tokens through the real stage: cache, revocation, disabled principal, method check. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { call } from './support/harness.ts';
import { createSetup, type Setup } from './support/setup.ts';

describe('API tokens', () => {
  let s: Setup;
  before(async () => { s = await createSetup(); });
  after(async () => { await s.close(); });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('accepts a valid API token, the second time synchronously from the cache', async () => {
    const { token, tokenId } = s.directory.issueApiToken('alice');
    const first = await call(s.harness.url, { headers: bearer(token) });
    assert.equal(first.status, 200);
    assert.equal(first.body.method, 'api_token');
    assert.equal(first.body.credentialId, tokenId);
    const lookups = s.directory.lookups;
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).headers.get('x-stage-sync'), '1');
    assert.equal(s.directory.lookups, lookups, 'no directory lookup on a cache hit');
  });

  it('refuses a revoked API token on the next request, even though it was cached (ERR_AUTHN_API_TOKEN_INVALID)', async () => {
    const { token, tokenId } = s.directory.issueApiToken('alice');
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
    await s.directory.revokeApiToken(tokenId);
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).body.error.code, 'ERR_AUTHN_API_TOKEN_INVALID');
  });

  it('refuses a guessed API token with ERR_AUTHN_API_TOKEN_INVALID', async () => {
    assert.equal((await call(s.harness.url, { headers: bearer('ghs_guessedguessedguessed') })).body.error.code, 'ERR_AUTHN_API_TOKEN_INVALID');
    assert.equal((await call(s.harness.url, { headers: bearer('ghs_bad!chars') })).body.error.code, 'ERR_AUTHN_API_TOKEN_INVALID');
  });

  it('refuses an expired API token with ERR_AUTHN_API_TOKEN_INVALID', async () => {
    const { token } = s.directory.issueApiToken('alice', Math.floor(Date.now() / 1000) - 1);
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).body.error.code, 'ERR_AUTHN_API_TOKEN_INVALID');
  });

  it('refuses the API token of a user disabled after it was cached (ERR_AUTHN_PRINCIPAL_DISABLED)', async () => {
    const { token } = s.directory.issueApiToken('mallory');
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
    await s.directory.setDisabled('mallory', true);
    try {
      assert.equal((await call(s.harness.url, { headers: bearer(token) })).body.error.code, 'ERR_AUTHN_PRINCIPAL_DISABLED');
    } finally { await s.directory.setDisabled('mallory', false); }
  });

  it('refuses an API token on a route that accepts only JWTs with ERR_AUTHN_METHOD_NOT_ALLOWED', async () => {
    const { token } = s.directory.issueApiToken('alice');
    assert.equal((await call(s.harness.url, { route: 'jwt-only', headers: bearer(token) })).body.error.code, 'ERR_AUTHN_METHOD_NOT_ALLOWED');
  });
});
