/**
 * The per-address lock of the sign-in check (LoginService, real SQLite store): password
 * guessing across accounts from one client blocks that client after
 * `addressLockAfterFailures` failures, whatever account it tries next, and an IPv6 client is
 * its /64 — rotating through the addresses of its own network does not reset the count.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { IdentityThrottleRepo } from '../../src/store/repos/identity-throttle-repo.ts';
import { createKvRepo } from '../../src/store/repos/kv-repo.ts';
import { LoginService } from '../../src/identity/login/login-service.ts';
import { hashPassword } from '../../src/identity/accounts/passwords.ts';
import { identitySchema } from '../../src/core/config/identity-schema.ts';
import type { KeySealer } from '../../src/identity/keys/key-sealer.ts';

const PASSWORD = 'correct horse battery staple 42';

describe('sign-in: per-address lock', () => {
  let dir: string;
  let store: Store;
  const events: Array<{ name: string; payload: Record<string, unknown> }> = [];
  let login: LoginService;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-addr-lock-'));
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    const users = new IdentityUsersRepo(store.db);
    const passwordHash = await hashPassword(PASSWORD);
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) await users.insert({ id: `u-${name}`, username: name, passwordHash, roles: [] });
    // High per-account thresholds: only the address lock can stop these attempts.
    const config = identitySchema.parse({ login: { delayAfterFailures: 100, lockAfterFailures: 100, addressLockAfterFailures: 3, addressWindowSeconds: 60, lockSeconds: 60 } });
    login = new LoginService({
      users, throttle: new IdentityThrottleRepo(store.db), kv: createKvRepo(store.db), sealer: {} as KeySealer, config,
      emit: (name, payload) => { events.push({ name, payload: payload as Record<string, unknown> }); },
      sleep: async () => undefined,
    });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('password guessing across accounts from one address blocks it after addressLockAfterFailures: the right password from it is refused, another address is not', async () => {
    for (const name of ['alice', 'bob', 'carol']) assert.equal((await login.checkPassword(name, 'wrong', '198.51.100.7')).ok, false);
    assert.ok(events.some((e) => e.name === 'identity.address.blocked' && e.payload.clientAddress === '198.51.100.7'), 'identity.address.blocked emitted');
    const blocked = await login.checkPassword('dave', PASSWORD, '198.51.100.7');
    assert.deepEqual(blocked, { ok: false, reason: 'address_blocked' });
    assert.equal((await login.checkPassword('dave', PASSWORD, '198.51.100.8')).ok, true);
  });

  it('guessing from a new address of one IPv6 /64 per attempt is counted as one client and blocks the /64, not its neighbour', async () => {
    const attempts = ['2001:db8:7:1::a', '2001:db8:7:1::b', '2001:db8:7:1:ffff:1:2:3'];
    for (const [i, address] of attempts.entries()) assert.equal((await login.checkPassword(['alice', 'bob', 'carol'][i]!, 'wrong', address)).ok, false);
    assert.deepEqual(await login.checkPassword('erin', PASSWORD, '2001:db8:7:1::99'), { ok: false, reason: 'address_blocked' });
    assert.equal((await login.checkPassword('erin', PASSWORD, '2001:db8:7:2::1')).ok, true, 'the next /64 is another client');
  });
});
