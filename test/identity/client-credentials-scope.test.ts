/**
 * Scope of client-credentials tokens (RFC 6749 §3.3, §4.4.2). Gatehouse's documented rule: a
 * request without `scope` gets a token with no scope (the default is the empty set, never the
 * client's allowed scopes); a request gets exactly the scopes it names, each of which must be
 * among the client's allowed scopes — anything else (unknown, another client's, an OpenID
 * scope) refuses the whole request with invalid_scope instead of being dropped or granted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { startHarness, type Harness } from './support/harness.ts';
import { rpConfig } from './support/flows.ts';

describe('client credentials: scope', () => {
  let h: Harness;
  let reporter: oidc.Configuration;
  let plain: oidc.Configuration;

  before(async () => {
    h = await startHarness('sqlite', { resources: ['https://api.example'] });
    const r = await h.idp.accounts.addClient({ clientId: 'reporter', kind: 'service', roles: ['reports'], allowedScopes: ['mail:read', 'mail:send'] });
    reporter = await rpConfig(h, 'reporter', r.secret!);
    const p = await h.idp.accounts.addClient({ clientId: 'plain', kind: 'service', roles: ['plain'] });
    plain = await rpConfig(h, 'plain', p.secret!);
  });
  after(() => h?.close());

  const invalidScope = (e: any) => e.error === 'invalid_scope';

  it('gives a request without a scope field a token with no scope at all, not the client\'s allowed scopes', async () => {
    const res = await oidc.clientCredentialsGrant(reporter, {});
    assert.equal(res.scope, undefined);
    assert.equal(decodeJwt(res.access_token).scope, undefined);
    assert.deepEqual(decodeJwt(res.access_token).roles, ['reports']);
  });

  it('gives exactly the allowed scopes a request names', async () => {
    const res = await oidc.clientCredentialsGrant(reporter, { scope: 'mail:read' });
    assert.equal(decodeJwt(res.access_token).scope, 'mail:read');
    const both = await oidc.clientCredentialsGrant(reporter, { scope: 'mail:send mail:read', resource: 'https://api.example' });
    assert.deepEqual(String(decodeJwt(both.access_token).scope).split(' ').sort(), ['mail:read', 'mail:send']);
  });

  it('refuses (invalid_scope) a request naming a scope the client is not allowed, instead of issuing a token without it', async () => {
    await assert.rejects(oidc.clientCredentialsGrant(reporter, { scope: 'mail:read admin:all' }), invalidScope);
    await assert.rejects(oidc.clientCredentialsGrant(reporter, { scope: 'admin:all', resource: 'https://api.example' }), invalidScope);
  });

  it('refuses OpenID scopes for a service account (invalid_scope)', async () => {
    await assert.rejects(oidc.clientCredentialsGrant(reporter, { scope: 'openid' }), invalidScope);
    await assert.rejects(oidc.clientCredentialsGrant(reporter, { scope: 'mail:read offline_access' }), invalidScope);
  });

  it('refuses any scope to a client with no allowed scopes, and still serves it without one', async () => {
    await assert.rejects(oidc.clientCredentialsGrant(plain, { scope: 'mail:read' }), invalidScope);
    assert.equal(decodeJwt((await oidc.clientCredentialsGrant(plain, {})).access_token).scope, undefined);
  });
});
