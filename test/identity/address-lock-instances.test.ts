/**
 * The per-address sign-in lock with several instances on one PostgreSQL database: the failure
 * count lives in the store so that every instance adds to it. Guesses sent in parallel — to
 * two instances, or to one with several pool connections — must each be counted; a count that
 * loses concurrent increments lets an attacker guess many more passwords than
 * `addressLockAfterFailures` before the address is blocked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { IdentityThrottleRepo } from '../../src/store/repos/identity-throttle-repo.ts';
import { createKvRepo } from '../../src/store/repos/kv-repo.ts';
import { LoginService } from '../../src/identity/login/login-service.ts';
import { hashPassword } from '../../src/identity/accounts/passwords.ts';
import { identitySchema } from '../../src/core/config/identity-schema.ts';
import type { KeySealer } from '../../src/identity/keys/key-sealer.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';

const skip = await serviceOrSkip('postgres');
const PASSWORD = 'correct horse battery staple 42';
const LIMIT = 24;

describe('sign-in: per-address lock shared by two instances on PostgreSQL', { skip }, () => {
  let database: ScratchDatabase | undefined;
  const stores: Store[] = [];
  const logins: LoginService[] = [];
  const throttles: IdentityThrottleRepo[] = [];

  before(async () => {
    database = await createScratchDatabase('gh_addr_lock');
    // High per-account thresholds: only the address lock can stop these attempts.
    const config = identitySchema.parse({ login: { delayAfterFailures: 100, lockAfterFailures: 1000, addressLockAfterFailures: LIMIT, addressWindowSeconds: 600, lockSeconds: 600 } });
    for (const instance of ['a', 'b']) {
      const store = await openStore(database.url, { poolMax: 10 });
      stores.push(store);
      if (instance === 'a') await store.migrate();
      const users = new IdentityUsersRepo(store.db);
      if (instance === 'a') await users.insert({ id: 'u-alice', username: 'alice', passwordHash: await hashPassword(PASSWORD), roles: [] });
      const throttle = new IdentityThrottleRepo(store.db);
      throttles.push(throttle);
      logins.push(new LoginService({ users, throttle, kv: createKvRepo(store.db), sealer: {} as KeySealer, config, emit: () => undefined, sleep: async () => undefined }));
    }
  });

  after(async () => {
    try {
      for (const store of stores) await store.close();
    } finally {
      await database?.drop();
    }
  });

  it('parallel failures from one address on two instances are each counted: the lock comes at exactly addressLockAfterFailures, and no count is lost to a race', async () => {
    const address = '203.0.113.9';
    const results = await Promise.allSettled(Array.from({ length: LIMIT }, (_, i) => throttles[i % 2]!.recordFailure(address, LIMIT, 600_000, 600_000)));
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(rejected.map((r) => (r as PromiseRejectedResult).reason?.code), [], 'no attempt fails on a conflicting first insert');
    const counts = results.map((r) => (r as PromiseFulfilledResult<{ failures: number; blocked: boolean }>).value);
    assert.deepEqual(counts.map((c) => c.failures).sort((x, y) => x - y), Array.from({ length: LIMIT }, (_, i) => i + 1), 'every failure is counted once');
    assert.equal(counts.filter((c) => c.blocked).length, 1, 'the address is blocked once, by the failure that reached the limit');
    assert.ok(await throttles[1]!.blockedUntil(address), 'blocked as seen from the other instance');
  });

  it('password guessing sent in parallel to two instances blocks the address after addressLockAfterFailures guesses: the right password from it is then refused on both', async () => {
    const address = '198.51.100.23';
    const guesses = await Promise.all(Array.from({ length: LIMIT }, (_, i) => logins[i % 2]!.checkPassword(`nobody-${i}`, 'wrong', address)));
    assert.ok(guesses.every((g) => !g.ok));
    for (const login of logins) assert.deepEqual(await login.checkPassword('alice', PASSWORD, address), { ok: false, reason: 'address_blocked' });
    assert.equal((await logins[0]!.checkPassword('alice', PASSWORD, '198.51.100.24')).ok, true, 'another address is not blocked');
  });
});
