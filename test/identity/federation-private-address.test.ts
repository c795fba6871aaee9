/**
 * Server-side request forgery through an external provider's discovery document: the document
 * names the provider's token, key and userinfo endpoints, and whoever controls it (a compromised
 * or hostile provider) could point them into Gatehouse's own network, to have Gatehouse send
 * requests there, with its client secret. Every connection towards a provider now goes only to a
 * public address or to a network its `privateNetworks` lists (src/core/http/address-guard.ts).
 *
 * Here the providers run on 127.0.0.1 (listed, as an operator lists an in-cluster provider's
 * network) and "the internal network" is a server on 127.0.0.2, which no provider lists but one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type * as oidc from 'openid-client';
import { selfSignedCert, startHarness, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig } from './support/flows.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig, federatedSignIn } from './support/federated-sign-in.ts';
import pino from 'pino';
import { identitySchema } from '../../src/core/config/identity-schema.ts';
import { FederationService } from '../../src/identity/federation/federation-service.ts';


describe('federation: a provider naming endpoints on a private address', () => {
  let internal: Server;
  /** Connections the internal server accepted (its certificate does not name 127.0.0.2: nothing gets past TLS). */
  let internalConnections = 0;
  let internalUrl = '';
  let tokenOp: FakeOp;
  let jwksOp: FakeOp;
  let plainOp: FakeOp;
  let h: Harness;
  let config: oidc.Configuration;

  before(async () => {
    const { key, cert } = selfSignedCert();
    internal = createServer({ key, cert }, (_req, res) => { res.writeHead(404).end(); });
    internal.on('connection', () => { internalConnections += 1; });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.2', resolve));
    internalUrl = `https://127.0.0.2:${(internal.address() as AddressInfo).port}`;
    tokenOp = await startFakeOp({ token_endpoint: `${internalUrl}/latest/meta-data/token` });
    jwksOp = await startFakeOp({ jwks_uri: `${internalUrl}/admin/jwks` });
    plainOp = await startFakeOp();
    const provider = fakeProviderConfig;
    h = await startHarness('sqlite', {
      federation: {
        token: provider(tokenOp.issuer),
        jwks: provider(jwksOp.issuer),
        // The same provider as `token`, whose operator listed the internal address too: the control.
        listed: provider(tokenOp.issuer, { privateNetworks: ['127.0.0.1/32', '127.0.0.2/32'] }),
        // A provider on loopback that the operator did not list at all.
        unlisted: provider(plainOp.issuer, { privateNetworks: [] }),
      },
    });
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => {
    await h?.close();
    await Promise.all([tokenOp?.close(), jwksOp?.close(), plainOp?.close()]);
    internal?.closeAllConnections();
    await new Promise<void>((resolve) => internal ? internal.close(() => resolve()) : resolve());
  });

  /** A federated sign-in of `email` through provider `name` of `op`; returns Gatehouse's last answer. */
  function signIn(provider: string, op: FakeOp, email: string) {
    return federatedSignIn(h, config, op, { provider, sub: `sub-${email}`, claims: { email, email_verified: true, groups: [] } });
  }

  it('a token endpoint on an unlisted private address: no connection is made there, the code and client secret never leave, ERR_IDENTITY_FEDERATION_FAILED', async () => {
    internalConnections = 0;
    const r = await signIn('token', tokenOp, 'token@example.com');
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
    assert.equal(r.location, undefined);
    assert.equal(internalConnections, 0);
    assert.equal(await h.idp.accounts.findUser('token@example.com'), undefined);
  });

  it('a JWKS on an unlisted private address: no connection is made there, the ID token is not accepted, ERR_IDENTITY_FEDERATION_FAILED', async () => {
    internalConnections = 0;
    const r = await signIn('jwks', jwksOp, 'jwks@example.com');
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
    assert.equal(internalConnections, 0);
    assert.equal(jwksOp.tokenRequests.length, 1, 'the provider\'s own token endpoint, on a listed address, was reached');
    assert.equal(await h.idp.accounts.findUser('jwks@example.com'), undefined);
  });

  it('a provider whose own address is not public and not listed: not even its discovery document is fetched', async () => {
    plainOp.requests.length = 0;
    const r = await signIn('unlisted', plainOp, 'unlisted@example.com');
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
    assert.equal(r.location, undefined);
    assert.deepEqual(plainOp.requests, []);
  });

  it('the same token endpoint is reached once the operator lists its network (control: the refusals above are the guard\'s)', async () => {
    internalConnections = 0;
    await signIn('listed', tokenOp, 'listed@example.com');
    assert.ok(internalConnections > 0);
  });
});

describe('federation: a provider\'s caFile', () => {
  it('an unreadable caFile stops the start with ERR_CONFIG_INVALID naming the setting, not the first sign-in', () => {
    const config = identitySchema.parse({ federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', caFile: '/nonexistent/ca.pem' } } });
    assert.throws(
      () => new FederationService({ config, mode: 'development', publicUrl: 'https://gatehouse.example', kv: {} as never, users: {} as never, accounts: {} as never, logger: pino({ level: 'silent' }) }),
      (e: { code?: string; message?: string; detail?: string }) => e.code === 'ERR_CONFIG_INVALID' && /identity\.federation\.corp\.caFile/.test(`${e.detail ?? ''} ${e.message ?? ''}`),
    );
  });
});
