/**
 * A change to a principal that no event announces to this instance — `gatehouse user disable`
 * run while the gateway is on the in-process bus (the CLI's bus is its own), or an event lost
 * in a bus partition — must still reach cached JWTs of Gatehouse's own issuer within
 * `authn.tokenCache.principalTtlMs`, as it reaches sessions at their next activity write and
 * API tokens after apiTokenTtlMs. Before, the verified-token cache served the disabled user's
 * token until its `exp`. Real stage, real HTTP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { call } from './support/harness.ts';
import { createSetup, sign, ORIGIN, type Setup } from './support/setup.ts';

const TTL_MS = 300;

describe('a principal change nobody announced', () => {
  let s: Setup;
  before(async () => { s = await createSetup({ principalTtlMs: TTL_MS }); });
  after(async () => { await s.close(); });

  it('a user disabled without an event (the CLI on the in-process bus): their cached access token is refused once principalTtlMs has passed, not served until exp', async () => {
    s.directory.add({ subject: 'oscar', roles: ['reader'] });
    const token = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'oscar', exp: Math.floor(Date.now() / 1000) + 600 });
    const auth = { headers: { authorization: `Bearer ${token}` } };
    assert.equal((await call(s.harness.url, auth)).status, 200);
    s.directory.setDisabledUnannounced('oscar', true);
    await sleep(TTL_MS + 200);
    const after = await call(s.harness.url, auth);
    assert.equal(after.body?.error?.code, 'ERR_AUTHN_PRINCIPAL_DISABLED', JSON.stringify(after.body));
  });

  it('within principalTtlMs a cached token is served from the cache without asking the directory (the bound costs one read per token and period)', async () => {
    s.directory.add({ subject: 'olive', roles: ['reader'] });
    const token = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'olive' });
    const auth = { headers: { authorization: `Bearer ${token}` } };
    assert.equal((await call(s.harness.url, auth)).status, 200);
    const lookups = s.directory.lookups;
    assert.equal((await call(s.harness.url, auth)).status, 200);
    assert.equal(s.directory.lookups, lookups, 'a second request within the period read the directory again');
  });
});
