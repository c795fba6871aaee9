/**
 * RFC 8705 certificate-bound access tokens at the gateway: a token with `cnf.x5t#S256` is
 * accepted only over a TLS connection on which the client presented that very certificate —
 * checked on every request, from the verified-token cache or not. Certificates are made by
 * the real `openssl`; the connection is real TLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { Agent } from 'undici';
import { call } from './support/harness.ts';
import type { CertAndKey } from './support/pki.ts';
import { createSetup, sign, type Setup } from './support/setup.ts';

describe('certificate-bound access tokens (RFC 8705)', () => {
  let s: Setup;
  let client: CertAndKey;
  let other: CertAndKey;
  let token: string;
  const agents: Agent[] = [];

  before(async () => {
    s = await createSetup({ tls: true });
    // Self-signed client certificates: the binding needs no CA, only the same certificate.
    client = s.pki.selfSigned('client one');
    other = s.pki.selfSigned('client two');
    const x5t = hash('sha256', client.cert.raw, 'base64url');
    token = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'mtls-bound-1', cnf: { 'x5t#S256': x5t } });
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await s.close();
  });

  function over(cert: CertAndKey | undefined): Agent {
    const agent = new Agent({ connect: { ca: s.tlsCa.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) } });
    agents.push(agent);
    return agent;
  }
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('accepts a certificate-bound token over a connection with its certificate, the second time synchronously', async () => {
    const agent = over(client);
    const first = await call(`${s.harness.url}/x`, { headers: bearer(token), dispatcher: agent });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.method, 'jwt');
    assert.equal(first.body.attributes.tokenBinding, 'mtls');
    const second = await call(`${s.harness.url}/x`, { headers: bearer(token), dispatcher: agent });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-stage-sync'), '1');
  });

  it('refuses a certificate-bound token presented over another client certificate, cached or not', async () => {
    const r = await call(`${s.harness.url}/x`, { headers: bearer(token), dispatcher: over(other) });
    assert.equal(r.body?.error?.code, 'ERR_AUTHN_TOKEN_BINDING');
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const fresh = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'mtls-bound-2', cnf: { 'x5t#S256': hash('sha256', client.cert.raw, 'base64url') } });
    assert.equal((await call(`${s.harness.url}/x`, { headers: bearer(fresh), dispatcher: over(other) })).body?.error?.code, 'ERR_AUTHN_TOKEN_BINDING');
  });

  it('refuses a certificate-bound token presented without a client certificate', async () => {
    const r = await call(`${s.harness.url}/x`, { headers: bearer(token), dispatcher: over(undefined) });
    assert.equal(r.body?.error?.code, 'ERR_AUTHN_CLIENT_CERT_REQUIRED');
  });

  it('refuses a certificate-bound token sent with the DPoP scheme', async () => {
    const r = await call(`${s.harness.url}/x`, { headers: { authorization: `DPoP ${token}`, dpop: 'e30.e30.e30' }, dispatcher: over(client) });
    assert.equal(r.body?.error?.code, 'ERR_AUTHN_DPOP_UNBOUND_TOKEN');
  });

  it('still accepts an unbound bearer token over a connection with a client certificate', async () => {
    const plain = await sign(s.rsa.privateKey, { alg: 'RS256', kid: s.rsa.kid }, { jti: 'plain-tls' });
    assert.equal((await call(`${s.harness.url}/x`, { headers: bearer(plain), dispatcher: over(other) })).status, 200);
  });
});
