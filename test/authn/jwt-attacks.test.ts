/**
 * Bearer JWT attacks against the real stage, real keys and a real JWKS endpoint over HTTPS.
 * Each attack is refused with its own code.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, createPrivateKey } from 'node:crypto';
import { base64url, CompactSign, generateKeyPair, exportJWK, exportSPKI, UnsecuredJWT } from 'jose';
import { call } from './support/harness.ts';
import { certificateThumbprint } from '../../src/authn/jwt/thumbprint-keys.ts';
import { x5cEntry } from './support/pki.ts';
import { startHitCounter } from './support/servers.ts';
import { createSetup, sign, JWKS_ISSUER, ORIGIN, X5C_ISSUER, X5T_ISSUER, type Setup } from './support/setup.ts';

function bearer(token: string): Record<string, string> { return { authorization: `Bearer ${token}` }; }

/** Signs claims written as raw JSON: SignJWT refuses to produce `1e400`, an issuer's serializer need not. */
function signRaw(key: Parameters<CompactSign['sign']>[0], header: { alg: string; kid: string }, rawClaims: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const json = `{"iss":${JSON.stringify(JWKS_ISSUER)},"aud":"api","sub":"alice","iat":${now},${rawClaims}}`;
  return new CompactSign(new TextEncoder().encode(json)).setProtectedHeader(header).sign(key);
}

describe('bearer JWT verification', () => {
  let s: Setup;
  before(async () => { s = await createSetup(); });
  after(async () => { await s.close(); });

  async function expectCode(token: string, code: string, route = 'api'): Promise<void> {
    const r = await call(s.harness.url, { route, headers: bearer(token) });
    assert.equal(r.body?.error?.code, code, `expected ${code}, got ${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse"/);
  }

  it('accepts an RS256 token from the JWKS issuer, then serves it from the cache synchronously', async () => {
    const token = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'ok-1' });
    const first = await call(s.harness.url, { headers: bearer(token) });
    assert.equal(first.status, 200);
    assert.equal(first.body.subject, `${JWKS_ISSUER}#alice`, 'a principal of the issuer that named it');
    assert.equal(first.body.method, 'jwt');
    assert.equal(first.headers.get('x-stage-sync'), '0');
    const second = await call(s.harness.url, { headers: bearer(token) });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-stage-sync'), '1');
  });

  it('accepts an ES256 token from the JWKS issuer', async () => {
    const token = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid });
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
  });

  it('rejects an unsecured token (alg: none) with ERR_AUTHN_TOKEN_ALGORITHM', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = new UnsecuredJWT({ iss: 'https://idp.example', aud: 'api', sub: 'alice', exp: now + 300 }).encode();
    await expectCode(token, 'ERR_AUTHN_TOKEN_ALGORITHM');
  });

  it('rejects an RS256 token re-signed with HS256 using the public key', async () => {
    const pem = await exportSPKI(s.rsa.publicKey);
    const token = await sign(new TextEncoder().encode(pem), { alg: 'HS256', kid: s.rsa.kid });
    await expectCode(token, 'ERR_AUTHN_TOKEN_ALGORITHM');
  });

  it('rejects an ES256 token re-signed with HS256 using the public JWK as secret', async () => {
    const token = await sign(new TextEncoder().encode(JSON.stringify(s.ec.jwk)), { alg: 'HS256', kid: s.ec.kid });
    await expectCode(token, 'ERR_AUTHN_TOKEN_ALGORITHM');
  });

  it('rejects a token signed with an unknown kid, and refetches the JWKS at most once per cooldown', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const before = s.jwks.hits;
    for (let i = 0; i < 3; i++) {
      const token = await sign(privateKey, { alg: 'ES256', kid: `attacker-${i}` });
      await expectCode(token, 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
    }
    assert.ok(s.jwks.hits - before <= 1, `JWKS fetched ${s.jwks.hits - before} times for 3 unknown kids`);
  });

  it('rejects a token whose signature was made by another key under a known kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await expectCode(await sign(privateKey, { alg: 'ES256', kid: s.ec.kid }), 'ERR_AUTHN_TOKEN_SIGNATURE');
  });

  it('ignores jku and x5u pointing to an attacker server and never fetches them', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const attackerJwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'evil', alg: 'ES256' }] });
    const counter = await startHitCounter(attackerJwks);
    try {
      await expectCode(await sign(privateKey, { alg: 'ES256', kid: 'evil', jku: `${counter.url}/jwks` }), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
      await expectCode(await sign(privateKey, { alg: 'ES256', kid: 'evil', x5u: `${counter.url}/cert.pem` }), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
      assert.equal(counter.hits, 0);
    } finally { await counter.close(); }
  });

  it('ignores a jwk header carrying the attacker\'s own key, and a kid that is a path or a URL', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    // Without a kid the issuer's one ES256 key is the candidate; the embedded key is never used.
    await expectCode(await sign(privateKey, { alg: 'ES256', jwk }), 'ERR_AUTHN_TOKEN_SIGNATURE');
    await expectCode(await sign(privateKey, { alg: 'ES256', kid: s.ec.kid, jwk }), 'ERR_AUTHN_TOKEN_SIGNATURE');
    await expectCode(await sign(privateKey, { alg: 'ES256', kid: 'attacker', jwk }), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
    await expectCode(await sign(privateKey, { alg: 'ES256', kid: '../../../../dev/null' }), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
    await expectCode(await sign(privateKey, { alg: 'ES256', kid: 'https://evil.example/key.pem' }), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
    // The Gatehouse issuer too (in-process key set).
    await expectCode(await sign(privateKey, { alg: 'ES256', typ: 'at+jwt', jwk }, { iss: ORIGIN, aud: ORIGIN }), 'ERR_AUTHN_TOKEN_SIGNATURE');
  });

  it('compares aud exactly (case and trailing slash) and accepts an array that contains the route\'s audience', async () => {
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { aud: 'API' }), 'ERR_AUTHN_TOKEN_AUDIENCE');
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { aud: `${ORIGIN}/` }), 'ERR_AUTHN_TOKEN_AUDIENCE');
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { aud: [] }), 'ERR_AUTHN_TOKEN_AUDIENCE');
    const multi = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { aud: ['billing', 'api'] });
    assert.equal((await call(s.harness.url, { headers: bearer(multi) })).status, 200);
  });

  it('rejects an iss that differs from a configured issuer only in case or a trailing slash with ERR_AUTHN_TOKEN_ISSUER', async () => {
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { iss: JWKS_ISSUER.toUpperCase() }), 'ERR_AUTHN_TOKEN_ISSUER');
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { iss: `${JWKS_ISSUER}/` }), 'ERR_AUTHN_TOKEN_ISSUER');
  });

  it('rejects an expired token with ERR_AUTHN_TOKEN_EXPIRED', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { iat: now - 600, exp: now - 60 }), 'ERR_AUTHN_TOKEN_EXPIRED');
  });

  it('rejects a token that is not yet valid with ERR_AUTHN_TOKEN_NOT_YET_VALID', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { nbf: now + 120 }), 'ERR_AUTHN_TOKEN_NOT_YET_VALID');
  });

  it('rejects a token for another audience with ERR_AUTHN_TOKEN_AUDIENCE, also when it was cached for another route', async () => {
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { aud: 'billing' }), 'ERR_AUTHN_TOKEN_AUDIENCE');
    const token = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { aud: 'api' });
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
    await expectCode(token, 'ERR_AUTHN_TOKEN_AUDIENCE', 'other');
  });

  it('rejects a token from an issuer that is not configured with ERR_AUTHN_TOKEN_ISSUER', async () => {
    await expectCode(await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { iss: 'https://evil.example' }), 'ERR_AUTHN_TOKEN_ISSUER');
  });

  it('rejects a token with an unknown crit extension with ERR_AUTHN_TOKEN_CRIT_UNSUPPORTED', async () => {
    const token = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid, crit: ['x-bound'], 'x-bound': 1 }, {}, { crit: { 'x-bound': true } });
    await expectCode(token, 'ERR_AUTHN_TOKEN_CRIT_UNSUPPORTED');
  });

  it('rejects an oversized token before parsing it with ERR_AUTHN_TOKEN_TOO_LARGE', async () => {
    const token = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { pad: 'x'.repeat(9000) });
    await expectCode(token, 'ERR_AUTHN_TOKEN_TOO_LARGE');
  });

  it('rejects a token that is not a compact JWS with ERR_AUTHN_TOKEN_MALFORMED', async () => {
    await expectCode('not.a-jwt', 'ERR_AUTHN_TOKEN_MALFORMED');
    await expectCode(`${base64url.encode('{"alg":')}.e30.sig`, 'ERR_AUTHN_TOKEN_MALFORMED');
  });

  it('accepts a token whose x5t#S256 names a certificate of the trust store', async () => {
    const token = await sign(s.trusted.key, { alg: 'ES256', 'x5t#S256': certificateThumbprint(s.trusted.cert) }, { iss: X5T_ISSUER });
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
  });

  it('rejects a token whose x5t#S256 names a certificate outside the trust store', async () => {
    const rogue = s.pki.selfSigned('rogue signer');
    const token = await sign(rogue.key, { alg: 'ES256', 'x5t#S256': certificateThumbprint(rogue.cert) }, { iss: X5T_ISSUER });
    await expectCode(token, 'ERR_AUTHN_TOKEN_KEY_UNKNOWN');
  });

  it('accepts a token whose x5c chain is rooted in the trusted CA', async () => {
    const token = await sign(s.chainLeaf.key, { alg: 'ES256', x5c: [x5cEntry(s.chainLeaf.cert), x5cEntry(s.ca.cert)] }, { iss: X5C_ISSUER });
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
  });

  it('rejects an x5c chain not rooted in the trusted CA with ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED', async () => {
    const rogueCa = s.pki.ca('token ca'); // same subject name as the trusted CA, different key
    const leaf = s.pki.leaf('x5c signer', rogueCa);
    await expectCode(await sign(leaf.key, { alg: 'ES256', x5c: [x5cEntry(leaf.cert), x5cEntry(rogueCa.cert)] }, { iss: X5C_ISSUER }), 'ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED');
    await expectCode(await sign(leaf.key, { alg: 'ES256', x5c: [x5cEntry(leaf.cert)] }, { iss: X5C_ISSUER }), 'ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED');
  });

  it('rejects an x5c leaf that is self-signed (the leaf alone is never trusted)', async () => {
    const self = s.pki.selfSigned('x5c signer');
    await expectCode(await sign(self.key, { alg: 'ES256', x5c: [x5cEntry(self.cert)] }, { iss: X5C_ISSUER }), 'ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED');
  });

  it('rejects an x5c leaf whose key usage does not allow signatures (keyEncipherment only)', async () => {
    const encipherOnly = s.pki.leaf('x5c signer', s.ca, undefined, 'serverAuth', 'keyEncipherment');
    await expectCode(await sign(encipherOnly.key, { alg: 'ES256', x5c: [x5cEntry(encipherOnly.cert), x5cEntry(s.ca.cert)] }, { iss: X5C_ISSUER }), 'ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED');
  });

  it('rejects an x5c chain whose leaf key did not make the signature', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await expectCode(await sign(privateKey, { alg: 'ES256', x5c: [x5cEntry(s.chainLeaf.cert), x5cEntry(s.ca.cert)] }, { iss: X5C_ISSUER }), 'ERR_AUTHN_TOKEN_SIGNATURE');
  });

  it('accepts Gatehouse\'s own at+jwt token and takes roles from the directory', async () => {
    const token = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, roles: ['admin'] });
    const r = await call(s.harness.url, { headers: bearer(token) });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.roles, ['reader']);
  });

  it('rejects Gatehouse\'s own token without typ at+jwt with ERR_AUTHN_TOKEN_TYPE', async () => {
    await expectCode(await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'JWT' }, { iss: ORIGIN, aud: ORIGIN }), 'ERR_AUTHN_TOKEN_TYPE');
  });

  it('rejects a token of a disabled user, also after it was cached (ERR_AUTHN_PRINCIPAL_DISABLED)', async () => {
    const token = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'mallory' });
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).headers.get('x-stage-sync'), '1');
    await s.directory.setDisabled('mallory', true);
    await expectCode(token, 'ERR_AUTHN_PRINCIPAL_DISABLED');
    await s.directory.setDisabled('mallory', false);
  });

  it('rejects a token of a subject the directory does not know with ERR_AUTHN_PRINCIPAL_UNKNOWN', async () => {
    await expectCode(await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub: 'ghost' }), 'ERR_AUTHN_PRINCIPAL_UNKNOWN');
  });

  it('rejects a revoked token, and a cached token right after its revocation (ERR_AUTHN_TOKEN_REVOKED)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'to-revoke' });
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).headers.get('x-stage-sync'), '1');
    await s.authn.revocations.revoke(JWKS_ISSUER, 'to-revoke', now + 300);
    await expectCode(token, 'ERR_AUTHN_TOKEN_REVOKED');
    const fresh = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'to-revoke', iat: now + 1 });
    await expectCode(fresh, 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it('keeps refusing a revoked token during the clock skew after its exp, when the revocations are pruned (ERR_AUTHN_TOKEN_REVOKED)', async () => {
    const now = Math.floor(Date.now() / 1000);
    // Past exp, but within the issuer's 5 s clock skew: still a valid token.
    const token = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'revoked-in-skew', iat: now - 60, exp: now - 2 });
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
    await s.authn.revocations.revoke(JWKS_ISSUER, 'revoked-in-skew', now - 2);
    await expectCode(token, 'ERR_AUTHN_TOKEN_REVOKED');
    // The upkeep prunes every few minutes; a run in this window must not bring the token back.
    await s.authn.revocations.prune(now);
    await expectCode(token, 'ERR_AUTHN_TOKEN_REVOKED');
    await s.authn.revocations.load(now);
    await expectCode(token, 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it('rejects a token whose exp is 1e400 (Infinity: cached for ever, no revocation can record it) with ERR_AUTHN_TOKEN_INVALID', async () => {
    await expectCode(await signRaw(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, '"exp":1e400,"jti":"eternal-1"'), 'ERR_AUTHN_TOKEN_INVALID');
  });

  it('rejects a token whose exp lies beyond what a revocation can record (1e20 s) with ERR_AUTHN_TOKEN_INVALID', async () => {
    await expectCode(await signRaw(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, '"exp":1e20,"jti":"eternal-2"'), 'ERR_AUTHN_TOKEN_INVALID');
  });

  it('rejects a token whose nbf or iat is not finite (-1e400, 1e400) with ERR_AUTHN_TOKEN_INVALID', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    await expectCode(await signRaw(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, `"exp":${exp},"nbf":-1e400`), 'ERR_AUTHN_TOKEN_INVALID');
    // A later "iat" member wins over the default one (JSON.parse keeps the last).
    await expectCode(await signRaw(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, `"exp":${exp},"iat":1e400`), 'ERR_AUTHN_TOKEN_INVALID');
  });

  it('rejects a token whose jti no revocation can name (a number, empty, 513 characters, NUL, a lone surrogate) with ERR_AUTHN_TOKEN_INVALID', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    for (const jti of ['123', '""', JSON.stringify('j'.repeat(513)), '"a\\u0000b"', '"\\ud800"']) {
      await expectCode(await signRaw(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, `"exp":${exp},"jti":${jti}`), 'ERR_AUTHN_TOKEN_INVALID');
    }
  });

  it('accepts a token with a 512-character jti and a far but recordable exp, and refuses it once revoked', async () => {
    const jti = 'j'.repeat(512);
    const exp = 2 ** 40;
    const token = await signRaw(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, `"exp":${exp},"jti":"${jti}"`);
    assert.equal((await call(s.harness.url, { headers: bearer(token) })).status, 200);
    await s.authn.revocations.revoke(JWKS_ISSUER, jti, exp);
    await expectCode(token, 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it('refuses a request without credential with 401 ERR_AUTHN_REQUIRED and a Bearer challenge', async () => {
    const r = await call(s.harness.url);
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_AUTHN_REQUIRED');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
  });

  it('lets a request through a public route without credential', async () => {
    const r = await call(s.harness.url, { route: 'open' });
    assert.equal(r.status, 200);
    assert.equal(r.body, null);
  });

  it('refuses Basic credentials with ERR_AUTHN_METHOD_NOT_ALLOWED', async () => {
    const r = await call(s.harness.url, { headers: { authorization: 'Basic YWxpY2U6cHc=' } });
    assert.equal(r.body.error.code, 'ERR_AUTHN_METHOD_NOT_ALLOWED');
  });

  it('keeps private key material out of every refusal body', async () => {
    const pem = createPrivateKey(s.pki.selfSigned('x').keyPem).export({ type: 'pkcs8', format: 'pem' }).toString();
    const r = await call(s.harness.url, { headers: bearer(`${base64url.encode(pem)}.e30.x`) });
    assert.equal(r.status, 401);
    assert.doesNotMatch(JSON.stringify(r.body), /PRIVATE|MII/);
    assert.ok(createPublicKey(pem)); // the fixture was a real key
  });
});
