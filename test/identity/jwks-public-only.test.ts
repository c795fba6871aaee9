/**
 * The JWKS (the provider's endpoint and what the gateway verifies with) carries public keys
 * only, for every signing algorithm and for rotated-out keys still published: a private
 * member there lets anyone sign tokens as Gatehouse.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './support/harness.ts';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('JWKS publishes no private key material', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite'); });
  after(async () => { await h?.close(); });

  it('leaves out every private member of ES256, EdDSA and RS256 keys, active and retiring alike', async () => {
    for (const alg of ['EdDSA', 'RS256', 'ES256'] as const) await h.idp.rotateKeys(alg);
    const served = (await (await h.fetch(`${h.origin}/oidc/jwks`)).json()) as { keys: Record<string, unknown>[] };
    const used = h.idp.publicJwks().keys as unknown as Record<string, unknown>[];
    for (const [where, keys] of [['/oidc/jwks', served.keys], ['publicJwks()', used]] as const) {
      assert.deepEqual(new Set(keys.map((k) => k.alg)), new Set(['ES256', 'EdDSA', 'RS256']), `${where}: the previous keys are still published`);
      for (const key of keys) assert.deepEqual(PRIVATE_MEMBERS.filter((m) => m in key), [], `${where}: ${key.kid} (${key.alg}) carries private members`);
    }
  });

  it('hands the gateway one key set object until the keys change, so that verifying a token does not import every key again', async () => {
    const first = h.idp.publicJwks();
    assert.equal(h.idp.publicJwks(), first, 'the same keys, the same object');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.keys), 'shared, so nobody may change it');
    await h.idp.rotateKeys();
    const rotated = h.idp.publicJwks();
    assert.notEqual(rotated, first, 'a rotation gives a new set');
    assert.equal(rotated.keys.length, first.keys.length + 1);
  });
});
