/**
 * What Gatehouse accepts from an external provider's token endpoint (a fake, hostile one):
 * an ID token must be signed with a key of the provider's JWKS, be issued by it, to
 * Gatehouse's client id, for this sign-in's nonce, and assert a verified e-mail as a boolean.
 * Each refusal is ERR_IDENTITY_FEDERATION_FAILED / _NOT_ALLOWED and nobody is signed in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as oidc from 'openid-client';
import { generateKeyPair, type CryptoKey } from 'jose';
import { startHarness, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig } from './support/flows.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig, federatedSignIn } from './support/federated-sign-in.ts';


describe('federation: ID token checks', () => {
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;
  let foreignKey: CryptoKey;

  before(async () => {
    op = await startFakeOp();
    foreignKey = (await generateKeyPair('ES256')).privateKey;
    h = await startHarness('sqlite', {
      federation: { ext: fakeProviderConfig(op.issuer) },
    });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => { await h?.close(); await op?.close(); });

  interface Forge { key?: CryptoKey; kid?: string; claims?: (nonce: string) => Record<string, unknown> }

  /** A federated sign-in whose token endpoint answers with an ID token made by `forge`; returns Gatehouse's last answer. */
  function signInWith(forge: Forge) {
    return federatedSignIn(h, config, op, {
      ...(forge.key ? { key: forge.key } : {}), ...(forge.kid ? { kid: forge.kid } : {}),
      claims: (nonce) => ({ email: 'mallory@example.com', email_verified: true, groups: [], ...forge.claims?.(nonce) }),
    });
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
