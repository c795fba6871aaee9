/**
 * Principal ids across issuers: an external issuer that names its own principals picks its
 * `sub` values freely, so its "alice" (or "usr_…", or a SPIFFE id) must not be Gatehouse's
 * principal of that id, nor another issuer's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { issuerQualifiedSubject } from '../../src/authn/principal.ts';
import { call } from './support/harness.ts';
import { collidingIdentities } from './support/colliding-identities.ts';
import { createSetup, sign, JWKS_ISSUER, ORIGIN, type Setup } from './support/setup.ts';

describe('principal ids across issuers', () => {
  let s: Setup;
  before(async () => { s = await createSetup(); });
  after(async () => { await s.close(); });

  it('subject collision from another issuer: its "alice" is the principal <issuer>#alice, not the local user alice', async () => {
    const { local, foreign } = await collidingIdentities(s);
    assert.equal(local.subject, 'alice');
    assert.equal(foreign.subject, `${JWKS_ISSUER}#alice`);
    assert.equal(foreign.issuer, JWKS_ISSUER);
    // The local user's other credentials name the same principal as her tokens.
    const { token } = s.directory.issueApiToken('alice');
    assert.equal((await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } })).body.subject, 'alice');
  });

  it('subject collision from another issuer naming a local service\'s SPIFFE id: it is that issuer\'s principal, not the workload', async () => {
    const spiffe = 'spiffe://secure-mail.internal/svc/messages';
    const token = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { sub: spiffe });
    const r = await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.equal(r.body.subject, `${JWKS_ISSUER}#${spiffe}`);
  });

  it('refuses a directory principal whose id contains "#" (ERR_AUTHN_PRINCIPAL_UNKNOWN): it could pass for another issuer\'s principal', async () => {
    const lookalike = `${JWKS_ISSUER}#mallory`;
    s.directory.add({ subject: lookalike, roles: ['admin'] });
    const token = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: lookalike });
    const r = await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);
    assert.equal(r.body?.error?.code, 'ERR_AUTHN_PRINCIPAL_UNKNOWN');
  });

  it('two issuers cannot name one principal by putting "#" in an issuer or a sub', () => {
    assert.notEqual(issuerQualifiedSubject('https://a.example#x', 'y'), issuerQualifiedSubject('https://a.example', 'x#y'));
    assert.notEqual(issuerQualifiedSubject('https://a.example%23x', 'y'), issuerQualifiedSubject('https://a.example#x', 'y'));
    assert.equal(issuerQualifiedSubject('https://idp.example.com', 'alice'), 'https://idp.example.com#alice');
  });
});
