/**
 * A provider's discovery document was fetched once and used until restart: a provider that moved
 * an endpoint (or changed any metadata) broke every sign-in through it until Gatehouse restarted.
 * It is now fetched again once a day; the document in hand keeps serving while its successor is
 * fetched, and when that fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { identitySchema } from '../../src/core/config/identity-schema.ts';
import { FederationService } from '../../src/identity/federation/federation-service.ts';
import { openStore } from '../../src/store/open-store.ts';
import { createKvRepo } from '../../src/store/repos/kv-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig } from './support/federated-sign-in.ts';
import { selfSignedCert } from './support/harness.ts';

const DAY = 24 * 3600_000;
const DISCOVERY = '/.well-known/openid-configuration';

describe('federation: a provider\'s discovery document over time', () => {
  let op: FakeOp;
  let store: Store;
  let dir: string;
  let service: FederationService;
  let clock = Date.now();
  /** The provider's metadata: changed in place, served as it is at each request. */
  const metadata: Record<string, unknown> = {};
  const discoveries = () => op.requests.filter((path) => path === DISCOVERY).length;
  /** Log lines of the service (JSON). */
  const logged: string[] = [];
  /** Waits (up to 10 s) for `done`: the background refetch runs over real sockets. */
  const until = async (done: () => boolean | Promise<boolean>, what: string) => {
    for (const deadline = Date.now() + 10_000; !(await done());) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const pathOf = async (uid: string) => new URL(await service.start('ext', uid)).pathname;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-fed-refresh-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    op = await startFakeOp(metadata);
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, selfSignedCert().cert);
    const config = identitySchema.parse({ federation: { ext: fakeProviderConfig(op.issuer, { privateNetworks: ['127.0.0.1/32'], caFile }) } });
    service = new FederationService({
      config, mode: 'development', publicUrl: 'https://gatehouse.example', kv: createKvRepo(store.db), users: {} as never, accounts: {} as never,
      logger: pino({ level: 'warn' }, { write: (line: string) => { logged.push(line); } }), now: () => clock,
    });
  });
  after(async () => {
    await service?.close();
    await op?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetches the document once for many sign-ins within a day', async () => {
    await service.start('ext', 'uid-1');
    await service.start('ext', 'uid-2');
    clock += DAY - 1_000;
    await service.start('ext', 'uid-3');
    assert.equal(discoveries(), 1);
  });

  it('follows an endpoint the provider moved, once the document is a day old: no restart needed', async () => {
    metadata.authorization_endpoint = `${op.issuer}/v2/authorize`;
    clock += 2_000;
    // The sign-in that finds the document stale still uses it, and its successor is fetched meanwhile.
    assert.equal(await pathOf('uid-4'), '/auth');
    await until(async () => (await pathOf('uid-5')) === '/v2/authorize', 'the new document');
    assert.equal(discoveries(), 2);
  });

  it('keeps signing in with the document in hand when the provider cannot give a new one, and tries again a minute later', async () => {
    clock += DAY + 1_000;
    op.failDiscovery = true;
    assert.equal(await pathOf('uid-6'), '/v2/authorize');
    await until(() => logged.some((line) => line.includes('could not be fetched again')), 'the failed refetch');
    assert.equal(discoveries(), 3, 'the refetch was tried');
    assert.equal(await pathOf('uid-7'), '/v2/authorize');
    assert.equal(discoveries(), 3, 'not again at once');
    op.failDiscovery = false;
    metadata.authorization_endpoint = `${op.issuer}/v3/authorize`;
    clock += 61_000;
    await service.start('ext', 'uid-8');
    await until(async () => (await pathOf('uid-9')) === '/v3/authorize', 'the document after the retry');
    assert.equal(discoveries(), 4);
  });
});

describe('federation: discovery and close()', () => {
  it('a sign-in reaching the service after close() (a request outliving the shutdown grace) fails without a new connection to the provider: no discovery or refetch opens a pool that nothing would close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-fed-close-'));
    const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    const op = await startFakeOp();
    try {
      await store.migrate();
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, selfSignedCert().cert);
      let clock = Date.now();
      const config = identitySchema.parse({ federation: { ext: fakeProviderConfig(op.issuer, { privateNetworks: ['127.0.0.1/32'], caFile }), other: fakeProviderConfig(op.issuer, { privateNetworks: ['127.0.0.1/32'], caFile }) } });
      const service = new FederationService({
        config, mode: 'development', publicUrl: 'https://gatehouse.example', kv: createKvRepo(store.db), users: {} as never, accounts: {} as never,
        logger: pino({ level: 'silent' }), now: () => clock,
      });
      await service.start('ext', 'uid-1');
      await service.close();
      const before = op.requests.length;
      clock += DAY + 1_000; // ext's document is due for its refetch
      for (const [provider, uid] of [['ext', 'uid-2'], ['other', 'uid-3']]) {
        await assert.rejects(service.start(provider!, uid!), (e: { code?: string }) => e.code === 'ERR_IDENTITY_FEDERATION_FAILED', provider);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(op.requests.slice(before), [], 'the provider was contacted after close()');
    } finally {
      await op.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
