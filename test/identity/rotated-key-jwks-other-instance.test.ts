/**
 * Two Gatehouse instances behind one load balancer (one PostgreSQL database); one rotates its
 * signing key and signs with the new one at once, and the other never gets the
 * `identity.keys.rotated` event (no shared bus here; in production: disconnected from NATS).
 * A relying party that verifies Gatehouse tokens itself meets the new kid and fetches the JWKS
 * (RFC 7517 / OIDC Core 10.1.1: an unknown kid means "fetch the keys again"), and the load
 * balancer sends it to the other instance. Before, that instance served a JWKS without the
 * new key until its next store check (`identity.signing.reloadCheckMs`, up to an hour), and
 * the relying party (which then waits its cooldown before fetching again) refused the token.
 * Now an instance asks the store whether the active key changed before it serves the JWKS (at
 * most once a second), and reloads if so.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

const skip = await serviceOrSkip('postgres');

describe('the JWKS served by an instance that did not hear of a rotation', { skip }, () => {
  let database: ScratchDatabase | undefined;
  let a: IdpGateway;
  let b: IdpGateway;
  let secret: string;

  before(async () => {
    database = await createScratchDatabase('gh_rotated_jwks');
    // Each instance has its own in-process bus, and checks the store only once an hour.
    const shared = {
      store: { url: database.url },
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url'), reloadCheckMs: 3_600_000 } },
      pki: { enabled: false },
    };
    a = await startIdpGateway({ ...shared, instanceId: 'rot-jwks-a' });
    b = await startIdpGateway({ ...shared, instanceId: 'rot-jwks-b' });
    secret = (await a.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] })).secret!;
  });
  after(async () => {
    try {
      await a?.close();
      await b?.close();
    } finally {
      await database?.drop();
    }
  });

  it('holds the key the other instance just made, so that a relying party verifies the token it signed', async () => {
    const { kid } = await identityProviderOf(a.gw.gateway.extensions)!.rotateKeys();
    const token = (await oidc.clientCredentialsGrant(await discover(a, 'billing', secret), {})).access_token;
    assert.equal(decodeProtectedHeader(token).kid, kid, 'A signs with the new key');
    const jwks = (await (await b.fetch(`${PUBLIC_URL}/oidc/jwks`)).json()) as JSONWebKeySet;
    assert.ok(jwks.keys.some((k) => k.kid === kid), `B's JWKS lacks the new key ${kid}: ${jwks.keys.map((k) => k.kid).join(', ')}`);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: PUBLIC_URL });
    assert.equal(payload.client_id, 'billing');
  });
});
