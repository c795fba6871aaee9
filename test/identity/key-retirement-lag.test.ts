/**
 * After a rotation, an instance that missed the `identity.keys.rotated` event keeps signing
 * with the previous key until its next store check (`identity.signing.reloadCheckMs`, up to
 * an hour). A token it signs at the last moment lives its whole lifetime from then: the
 * previous key must stay published that long, or every verifier (the other instances, relying
 * parties) refuses a valid token before it expires.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './support/harness.ts';

describe('signing key retirement after a rotation some instance has not seen yet', () => {
  let h: Harness;
  const reloadCheckMs = 15 * 60_000;

  before(async () => {
    h = await startHarness('sqlite', { signing: { reloadCheckMs }, ttl: { accessToken: 600, clientCredentials: 900, idToken: 300 } });
  });
  after(async () => { await h?.close(); });

  it('keeps the previous key published until a token signed with it by a lagging instance has expired', async () => {
    const rotatedAt = Date.now();
    const { retireAt } = await h.idp.rotateKeys();
    // Signed at rotatedAt + reloadCheckMs (the lagging instance's last moment), valid for the longest JWT lifetime.
    const lastTokenExpires = rotatedAt + reloadCheckMs + 900_000;
    assert.ok(retireAt >= lastTokenExpires, `the previous key leaves the JWKS ${Math.round((lastTokenExpires - retireAt) / 1000)} s before the last token it signed expires`);
  });
});
