/**
 * JWT revocations name the issuer: a `jti` is unique only within its issuer, and with
 * several issuers (federation) two unrelated tokens can carry the same one, by chance or
 * because whoever runs an external issuer chose it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { certificateThumbprint } from '../../src/authn/jwt/thumbprint-keys.ts';
import { call } from './support/harness.ts';
import { createSetup, sign, JWKS_ISSUER, ORIGIN, X5T_ISSUER, type Setup } from './support/setup.ts';

describe('JWT revocation across issuers', () => {
  let s: Setup;
  before(async () => { s = await createSetup(); });
  after(async () => { await s.close(); });

  const status = async (token: string) => {
    const r = await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    return r.status === 200 ? 'accepted' : r.body?.error?.code;
  };
  const external = (jti: string) => sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti });
  const own = (jti: string) => sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, jti });
  const x5t = (jti: string) => sign(s.trusted.key, { alg: 'ES256', 'x5t#S256': certificateThumbprint(s.trusted.cert) }, { iss: X5T_ISSUER, jti });

  it('revoking an external issuer\'s token does not refuse Gatehouse\'s own token that has the same jti (as told by another instance)', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const mine = await own('chosen-by-the-external-issuer');
    const theirs = await external('chosen-by-the-external-issuer');
    assert.equal(await status(mine), 'accepted');
    assert.equal(await status(theirs), 'accepted');
    // The event another instance publishes when an administrator revokes the external token.
    await s.publish({ type: 'token.revoked', issuer: JWKS_ISSUER, jti: 'chosen-by-the-external-issuer', expiresAt: exp });
    assert.equal(await status(mine), 'accepted', 'the own token (cached) was refused for another issuer\'s revocation');
    assert.equal(await status(await own('chosen-by-the-external-issuer')), 'accepted', 'a fresh own token was refused');
    assert.equal(await status(theirs), 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it('revoking a jti of one issuer on this instance refuses only that issuer\'s token', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const a = await external('same-jti');
    const b = await x5t('same-jti');
    assert.equal(await status(a), 'accepted');
    assert.equal(await status(b), 'accepted');
    await s.authn.revocations.revoke(X5T_ISSUER, 'same-jti', exp);
    assert.equal(await status(b), 'ERR_AUTHN_TOKEN_REVOKED');
    assert.equal(await status(a), 'accepted');
    await s.authn.revocations.load();
    assert.equal(await status(await external('same-jti')), 'accepted', 'reloading from the store merged the issuers');
    assert.equal(await status(await x5t('same-jti')), 'ERR_AUTHN_TOKEN_REVOKED');
  });
});
