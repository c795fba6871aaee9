/**
 * A browser session cached by instance B whose user is disabled (or loses a role) through
 * instance A or the CLI, while the `principal.changed` event does not reach B (B was
 * disconnected from NATS at that moment, or the CLI could not publish). The two session
 * managers share one PostgreSQL database and nothing else. B must stop honouring the old
 * principal by its next activity write (`session.touchIntervalMs`), as it already stops
 * honouring a deleted session: before, it kept serving the disabled user — with the old
 * roles — from its cache for as long as the session stayed active (up to the absolute timeout).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { IdentityClientsRepo } from '../../src/store/repos/identity-clients-repo.ts';
import { createAuthnSessionRepo } from '../../src/store/repos/authn-sessions-repo.ts';
import { AccountService } from '../../src/identity/accounts/account-service.ts';
import { createPrincipalDirectory } from '../../src/identity/accounts/principal-directory.ts';
import { createLocalInvalidationChannel } from '../../src/authn/local-invalidation.ts';
import { SessionManager } from '../../src/authn/session/session-manager.ts';
import type { Identity } from '../../src/gateway/context.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';

const skip = await serviceOrSkip('postgres');
const TOUCH = 60_000;

describe('a session cached on instance B after its principal changed elsewhere, with the event lost', { skip }, () => {
  let database: ScratchDatabase | undefined;
  const stores: Store[] = [];
  const managers: SessionManager[] = [];
  let accounts: AccountService;
  let clock = Date.now();

  before(async () => {
    database = await createScratchDatabase('gh_session_principal');
    for (let i = 0; i < 2; i++) {
      const store = await openStore(database.url);
      if (i === 0) await store.migrate();
      stores.push(store);
      // Each instance has its own invalidation channel: no event crosses between them.
      const channel = createLocalInvalidationChannel();
      managers.push(new SessionManager({
        store: createAuthnSessionRepo(store.db),
        principals: createPrincipalDirectory(new IdentityUsersRepo(store.db), new IdentityClientsRepo(store.db)),
        onInvalidate: channel.onInvalidate, publish: channel.publish,
        idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 3600_000, touchIntervalMs: TOUCH, maxCachedSessions: 100, now: () => clock,
      }));
    }
    // The admin's side (instance A or the CLI): its principal.changed goes nowhere.
    accounts = new AccountService(new IdentityUsersRepo(stores[0]!.db), new IdentityClientsRepo(stores[0]!.db), () => undefined);
  });

  after(async () => {
    try {
      for (const m of managers) m.close();
      for (const store of stores) await store.close();
    } finally {
      await database?.drop();
    }
  });

  /** Signs `username` in on A and has B serve the session from its cache; returns the session id. */
  async function sessionCachedOnB(username: string, roles: string[]): Promise<string> {
    const user = await accounts.addUser({ username, password: 'correct horse battery staple 42', roles });
    const principal = (await createPrincipalDirectory(new IdentityUsersRepo(stores[0]!.db), new IdentityClientsRepo(stores[0]!.db)).getPrincipal(user.id))!;
    const { session } = await managers[0]!.create(principal, { issuer: 'https://gw.test', amr: ['pwd'], authTime: Math.floor(clock / 1000) });
    await managers[1]!.authenticate(session.id);
    assert.ok(managers[1]!.cached(session.id), 'B serves it from its cache');
    return session.id;
  }

  /** Uses the session on B once a touch interval has passed, then until B's answer settles (at most 2 s). */
  async function afterTouchInterval(id: string): Promise<Identity | undefined> {
    clock += TOUCH + 1;
    let identity = managers[1]!.cached(id);
    const deadline = Date.now() + 2_000;
    for (let previous = identity; Date.now() < deadline; previous = identity) {
      await new Promise((r) => setTimeout(r, 50));
      identity = managers[1]!.cached(id);
      if (identity === undefined || identity !== previous) break;
    }
    return identity;
  }

  it('a user disabled elsewhere is refused on B from its next activity write on (ERR_AUTHN_PRINCIPAL_DISABLED), not kept until the session times out', async () => {
    const id = await sessionCachedOnB('mallory', ['mail:user']);
    await accounts.setUserDisabled('mallory', true);
    assert.equal(await afterTouchInterval(id), undefined, 'B no longer serves the disabled user from its cache');
    await assert.rejects(managers[1]!.authenticate(id), { code: 'ERR_AUTHN_PRINCIPAL_DISABLED' });
  });

  it('a role removed elsewhere is gone from the identity B hands on by its next activity write', async () => {
    const id = await sessionCachedOnB('trudy', ['mail:user', 'mail:admin']);
    await accounts.setUserRoles('trudy', ['mail:user']);
    const identity = (await afterTouchInterval(id)) ?? await managers[1]!.authenticate(id);
    assert.deepEqual([...identity.roles], ['mail:user']);
  });
});
