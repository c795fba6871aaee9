/**
 * A fleet's first start: several instances (a Kubernetes Deployment's replicas) start at the
 * same moment on an empty PostgreSQL database and one NATS stream. Each finds no signing key,
 * no gateway login client and no CA, and creates them; exactly one of each must win, every
 * instance must start, and all must then sign and verify with the same keys.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { IdentityKeysRepo } from '../../src/store/repos/identity-keys-repo.ts';
import { createKeySealer } from '../../src/identity/keys/key-sealer.ts';
import { KeyManager } from '../../src/identity/keys/key-manager.ts';
import { identitySchema } from '../../src/core/config/identity-schema.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { discover, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

const skip = (await serviceOrSkip('postgres')) || (await serviceOrSkip('nats'));

describe('signing keys: three instances loading them at once from an empty PostgreSQL database', { skip: await serviceOrSkip('postgres') }, () => {
  let database: ScratchDatabase | undefined;
  const stores: Store[] = [];
  let managers: KeyManager[] = [];

  before(async () => {
    database = await createScratchDatabase('gh_first_keys');
    const identity = identitySchema.parse({ signing: { keyEncryptionSecret: randomBytes(32).toString('base64url') } });
    for (let i = 0; i < 3; i++) {
      const store = await openStore(database.url);
      if (i === 0) await store.migrate();
      stores.push(store);
    }
    const sealer = createKeySealer({ mode: 'development', dataDir: '/nonexistent', identity }, pino({ level: 'silent' }));
    managers = stores.map((store) => new KeyManager(new IdentityKeysRepo(store.db, store.dialect), sealer, 'ES256', 600_000));
  });

  after(async () => {
    try {
      for (const store of stores) await store.close();
    } finally {
      await database?.drop();
    }
  });

  it('every instance ends up with the one first key (signing and cookie), in every one of 10 fresh starts', async () => {
    for (let round = 0; round < 10; round++) {
      await stores[0]!.db.deleteFrom('identity_keys').execute();
      const loaded = await Promise.all(managers.map((m) => m.load()));
      const rows = await stores[0]!.db.selectFrom('identity_keys').select(['use', 'status']).execute();
      assert.deepEqual(rows.map((r) => `${r.use}:${r.status}`).sort(), ['cookie:active', 'sig:active'], `round ${round}: one active key of each use`);
      for (const m of loaded) {
        assert.equal(m.activeKid, loaded[0]!.activeKid, `round ${round}: same signer everywhere`);
        assert.deepEqual(m.jwks.map((k) => k.kid), [loaded[0]!.activeKid]);
        assert.deepEqual(m.cookieKeys, loaded[0]!.cookieKeys);
      }
    }
  });

  it('two rotations at once leave one active key, not two', async () => {
    await Promise.all(managers.slice(0, 2).map((m) => m.rotate()));
    const active = await stores[0]!.db.selectFrom('identity_keys').select(['use', 'kid']).where('status', '=', 'active').execute();
    assert.deepEqual(active.map((r) => r.use).sort(), ['cookie', 'sig']);
  });
});

describe('three instances starting at once on an empty PostgreSQL database', { skip }, () => {
  const run = randomBytes(5).toString('hex');
  let database: ScratchDatabase | undefined;
  const natsOptions = { stream: `GH_FIRST_${run}`, subjectPrefix: `ghfirst.${run}` };
  let instances: IdpGateway[] = [];
  let started: PromiseSettledResult<IdpGateway>[] = [];

  before(async () => {
    database = await createScratchDatabase('gh_first_start');
    const shared = {
      store: { url: database.url },
      bus: { url: NATS_URL, ...natsOptions, maxAgeMs: 10 * 60_000 },
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url') } },
      pki: { key: randomBytes(32).toString('base64url'), trustDomain: 'gatehouse.internal' },
    };
    started = await Promise.allSettled(['a', 'b', 'c'].map((name) => startIdpGateway({ ...shared, instanceId: `first-${name}` })));
    instances = started.filter((s): s is PromiseFulfilledResult<IdpGateway> => s.status === 'fulfilled').map((s) => s.value);
  });

  after(async () => {
    try {
      for (const instance of instances) await instance.close();
      const nc = await connect({ servers: new URL(NATS_URL).host });
      try { await (await jetstreamManager(nc)).streams.delete(natsOptions.stream); } catch { /* never created */ } finally { await nc.close(); }
    } finally {
      await database?.drop();
    }
  });

  it('every instance starts (the first login-client registration and CA creation race is not a start failure)', () => {
    const failures = started.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error)?.message ?? s.reason)] : []));
    assert.deepEqual(failures, []);
  });

  it('all instances publish one and the same signing key and sign with it: no instance keeps a first key of its own that the others cannot verify', async () => {
    assert.equal(instances.length, 3);
    const kidsOf = async (idp: IdpGateway) => ((await (await idp.fetch(`${idp.origin}/oidc/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const jwks = await Promise.all(instances.map(kidsOf));
    assert.equal(jwks[0]!.length, 1, `one signing key, got ${JSON.stringify(jwks)}`);
    for (const kids of jwks) assert.deepEqual(kids, jwks[0]);
    const { secret } = await instances[0]!.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] });
    for (const instance of instances) {
      const token = (await oidc.clientCredentialsGrant(await discover(instance, 'billing', secret!), {})).access_token;
      assert.equal(decodeProtectedHeader(token).kid, jwks[0]![0]);
    }
  });
});
