/**
 * A key rotation whose `identity.keys.rotated` event an instance never receives: the instance
 * was disconnected from NATS at that moment, or `gatehouse keys rotate` could not publish (it
 * then exits 1, the rotation itself saved). Here the two instances share the PostgreSQL
 * database but no bus at all, so no event can reach them. Each must still pick up the new key
 * from the store: an instance that kept its old key kept signing with it after it retired
 * from everyone else's JWKS, and refused every token the others signed with the new one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import pino from 'pino';
import { openStore } from '../../src/store/open-store.ts';
import { createIdentityProvider } from '../../src/identity/index.ts';
import { keysRotate } from '../../src/identity/commands/index.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { discover, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

const skip = await serviceOrSkip('postgres');

describe('a key rotation no instance hears of (no shared bus)', { skip }, () => {
  let database: ScratchDatabase | undefined;
  let storeUrl: string;
  let a: IdpGateway;
  let b: IdpGateway;
  let secret: string;

  before(async () => {
    database = await createScratchDatabase('gh_missed_rotation');
    storeUrl = database.url;
    // Each instance has its own in-process bus: nothing published elsewhere reaches it.
    const shared = {
      store: { url: storeUrl },
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url'), reloadCheckMs: 500 } },
      pki: { enabled: false },
    };
    a = await startIdpGateway({ ...shared, instanceId: 'rot-a' });
    b = await startIdpGateway({ ...shared, instanceId: 'rot-b' });
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

  it('every instance publishes and signs with the rotated key within identity.signing.reloadCheckMs, without the identity.keys.rotated event', async () => {
    const kidsOf = async (idp: IdpGateway) => ((await (await idp.fetch(`${idp.origin}/oidc/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await kidsOf(a);
    // `gatehouse keys rotate` whose event went nowhere.
    const store = await openStore(storeUrl);
    let rotated: { kid: string };
    try {
      const idp = await createIdentityProvider({ config: a.gw.gateway.config, store, logger: pino({ level: 'silent' }), publicUrl: a.origin });
      rotated = await keysRotate(idp);
      await idp.close();
    } finally {
      await store.close();
    }
    for (const instance of [a, b]) {
      const deadline = Date.now() + 5_000;
      let kids = await kidsOf(instance);
      while (kids[0] !== rotated.kid && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        kids = await kidsOf(instance);
      }
      assert.deepEqual(kids, [rotated.kid, before[0]], 'new key first, the previous one still verifying');
      const token = (await oidc.clientCredentialsGrant(await discover(instance, 'billing', secret), {})).access_token;
      assert.equal(decodeProtectedHeader(token).kid, rotated.kid, 'signs with the new key');
    }
  });
});
