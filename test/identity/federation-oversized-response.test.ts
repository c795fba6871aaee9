/**
 * An external provider (hostile, compromised or broken) that answers with a huge body: before,
 * openid-client read any JWKS or token response whole into memory, so that a few such answers
 * of a gigabyte would end the identity provider. Now what Gatehouse reads from a provider is
 * capped (bounded-fetch.ts): such a sign-in fails as ERR_IDENTITY_FEDERATION_FAILED, whether
 * the body is announced by Content-Length or streamed without one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type * as oidc from 'openid-client';
import { selfSignedCert, startHarness, trustingFetch, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig } from './support/flows.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig, federatedSignIn } from './support/federated-sign-in.ts';

const PADDING = 8 * 1024 * 1024;

describe('federation: oversized responses of an external provider', () => {
  let op: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;
  let jwksServer: Server;
  /** Whether the JWKS endpoint pads the provider's real key set with PADDING bytes (streamed, no Content-Length). */
  let padJwks = false;

  before(async () => {
    // The provider's jwks_uri points here, so that the JWKS answer can be made huge.
    const { key, cert } = selfSignedCert();
    jwksServer = createServer({ key, cert }, async (_req, res) => {
      const real = await (await trustingFetch()(`${op.issuer}/jwks`)).text();
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!padJwks) { res.end(real); return; }
      res.write(`${real.slice(0, -1)},"padding":"`);
      const chunk = 'x'.repeat(64 * 1024);
      for (let sent = 0; sent < PADDING && !res.destroyed; sent += chunk.length) {
        if (!res.write(chunk)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
      }
      res.end('"}');
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    op = await startFakeOp({ jwks_uri: `https://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks` });
    h = await startHarness('sqlite', {
      federation: { ext: fakeProviderConfig(op.issuer) },
    });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => {
    await h?.close();
    await op?.close();
    jwksServer?.closeAllConnections();
    await new Promise<void>((resolve) => jwksServer ? jwksServer.close(() => resolve()) : resolve());
  });

  /** A federated sign-in of `email`; `pad` bytes are added to the token response. Returns Gatehouse's last answer. */
  function signIn(email: string, pad = 0) {
    return federatedSignIn(h, config, op, {
      sub: `sub-${email}`, claims: { email, email_verified: true, groups: [] }, ...(pad ? { tokenBody: { padding: 'x'.repeat(pad) } } : {}),
    });
  }

  it('refuses a JWKS of 8 MiB streamed without Content-Length: ERR_IDENTITY_FEDERATION_FAILED, nobody signed in', async () => {
    padJwks = true;
    const r = await signIn('jwks@example.com');
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
    assert.equal(r.location, undefined);
    assert.equal(await h.idp.accounts.findUser('jwks@example.com'), undefined);
  });

  it('refuses a token response of 8 MiB: ERR_IDENTITY_FEDERATION_FAILED, nobody signed in', async () => {
    padJwks = false;
    const r = await signIn('token@example.com', PADDING);
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
    assert.equal(r.location, undefined);
    assert.equal(await h.idp.accounts.findUser('token@example.com'), undefined);
  });

  it('signs in through the same provider when its answers are of ordinary size (control)', async () => {
    padJwks = false;
    const r = await signIn('ordinary@example.com');
    assert.ok(r.location?.startsWith(REDIRECT), `${r.status} ${r.body.slice(0, 200)}`);
    assert.ok(await h.idp.accounts.findUser('ordinary@example.com'));
  });
});
