/**
 * What Gatehouse accepts from an external provider's token endpoint (a fake, hostile one):
 * an ID token must be signed with a key of the provider's JWKS, be issued by it, to
 * Gatehouse's client id, for this sign-in's nonce, and assert a verified e-mail as a boolean.
 * Each refusal is ERR_IDENTITY_FEDERATION_FAILED / _NOT_ALLOWED and nobody is signed in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startHarness, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig, startAuth } from './support/flows.ts';
import { formAction, inputValue } from './support/browser.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';

const CLIENT_ID = 'gatehouse-at-ext';

describe('federation: ID token checks', () => {
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;
  let foreignKey: CryptoKey;

  before(async () => {
    op = await startFakeOp();
    foreignKey = (await generateKeyPair('ES256')).privateKey;
    h = await startHarness('sqlite', {
      federation: { ext: { issuer: op.issuer, clientId: CLIENT_ID, clientSecret: 'ext-secret', provisioning: 'jit', allowedEmailDomains: ['example.com'], scopes: ['openid', 'email'] } },
    });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); await op?.close(); });

  interface Forge { key?: CryptoKey; kid?: string; claims?: (nonce: string) => Record<string, unknown> }

  /** A federated sign-in whose token endpoint answers with an ID token made by `forge`; returns Gatehouse's last answer. */
  async function signInWith(forge: Forge) {
    const start = await startAuth(h, config);
    const go = await start.browser.request(new URL(formAction(start.loginPage, 'federated/ext')!, h.origin), { form: { csrf: inputValue(start.loginPage, 'csrf')! } });
    const request = new URL(go.location!);
    const nonce = request.searchParams.get('nonce')!;
    op.tokenResponse = async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = forge.claims?.(nonce) ?? {};
      // auth_time: startAuth asks for prompt=login, which the provider must show it honoured.
      const idToken = await new SignJWT({ nonce, email: 'mallory@example.com', email_verified: true, groups: [], auth_time: now, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: forge.kid ?? 'op-1' })
        .setIssuer((claims.iss as string | undefined) ?? op.issuer).setAudience((claims.aud as string | undefined) ?? CLIENT_ID)
        .setSubject((claims.sub as string | undefined) ?? 'ext-user-1').setIssuedAt(now).setExpirationTime(now + 300)
        .sign(forge.key ?? op.key);
      return { status: 200, body: { access_token: 'at-1', token_type: 'Bearer', expires_in: 300, id_token: idToken } };
    };
    const callback = new URL(request.searchParams.get('redirect_uri')!);
    callback.search = new URLSearchParams({ code: 'code-1', state: request.searchParams.get('state')! }).toString();
    let r = await start.browser.request(callback);
    for (let hops = 0; r.location?.startsWith(h.origin) && hops < 4; hops++) r = await start.browser.request(r.location);
    return r;
  }

  const refused = (r: { status: number; body: string; location: string | undefined }, code = 'ERR_IDENTITY_FEDERATION_FAILED') => {
    assert.match(r.body, new RegExp(code));
    assert.equal(r.location, undefined);
  };

  it('signs in with a well-formed ID token (control)', async () => {
    const r = await signInWith({});
    assert.ok(r.location?.startsWith(REDIRECT), `${r.status} ${r.body.slice(0, 200)}`);
    assert.ok(await h.idp.accounts.findUser('mallory@example.com'));
  });

  it('refuses an ID token signed with a key that is not in the provider JWKS', async () => {
    refused(await signInWith({ key: foreignKey, claims: () => ({ email: 'forged@example.com' }) }));
    assert.equal(await h.idp.accounts.findUser('forged@example.com'), undefined);
  });

  it('refuses an ID token signed with a key that is not in the provider JWKS under its kid', async () => {
    refused(await signInWith({ key: foreignKey, kid: 'op-2', claims: () => ({ email: 'forged2@example.com' }) }));
  });

  it('refuses an ID token issued to another client (aud)', async () => {
    refused(await signInWith({ claims: () => ({ aud: 'another-client', email: 'aud@example.com' }) }));
  });

  it('refuses an ID token from another issuer (iss)', async () => {
    refused(await signInWith({ claims: () => ({ iss: 'https://accounts.example', email: 'iss@example.com' }) }));
  });

  it('refuses an ID token made for another sign-in (nonce)', async () => {
    refused(await signInWith({ claims: () => ({ nonce: 'not-this-one', email: 'nonce@example.com' }) }));
  });

  it('refuses an e-mail whose email_verified is the string "true" (account linking needs a verified address)', async () => {
    refused(await signInWith({ claims: () => ({ sub: 'ext-user-2', email: 'string@example.com', email_verified: 'true' }) }), 'ERR_IDENTITY_FEDERATION_NOT_ALLOWED');
    assert.equal(await h.idp.accounts.findUser('string@example.com'), undefined);
  });
});
