/**
 * The authn storage contracts (sessions, pending logins, revoked token ids, seen DPoP
 * proofs), one suite run against memory, SQLite and PostgreSQL; plus what only a shared
 * database gives: state that survives a restart and is seen by another instance.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isGatehouseError } from '../../src/core/errors.ts';
import { RevocationList } from '../../src/authn/revocation-list.ts';
import type { GatewaySession, LoginStateStore, SessionStore } from '../../src/authn/session/session-store.ts';
import type { RevokedTokenStore } from '../../src/authn/types.ts';
import { MemoryLoginStateStore, MemorySessionStore } from '../../src/authn/session/memory-session-store.ts';
import { MemoryRevokedTokenStore } from '../../src/authn/memory-stores.ts';
import { MemoryReplayCache, type ReplayCache } from '../../src/authn/dpop/replay-cache.ts';
import { createAuthnSessionRepo } from '../../src/store/repos/authn-sessions-repo.ts';
import { createAuthnLoginStateRepo } from '../../src/store/repos/authn-login-states-repo.ts';
import { createAuthnRevokedTokenRepo } from '../../src/store/repos/authn-revoked-tokens-repo.ts';
import { createAuthnDpopProofRepo } from '../../src/store/repos/authn-dpop-proofs-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createTestDatabase, type Backend, type TestDatabase } from './support/stores.ts';

interface Stores { sessions: SessionStore; logins: LoginStateStore; revoked: RevokedTokenStore; proofs: ReplayCache }

const id = () => randomBytes(32).toString('base64url');
const ISSUER_A = 'https://idp.example';
const ISSUER_B = 'https://partner.example';
/** `n` random characters of three UTF-8 bytes each (U+0800…U+D7FF): incompressible, so PostgreSQL indexes them at full size. */
const threeByteChars = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => randomInt(0x800, 0xd800)));
const HOUR = 3600_000;

function session(overrides: Partial<GatewaySession> = {}): GatewaySession {
  const now = Date.now();
  return { id: id(), subject: 'alice', issuer: 'https://gw.test', amr: ['pwd', 'otp'], authTime: Math.floor(now / 1000), createdAt: now, lastSeenAt: now, expiresAt: now + HOUR, ...overrides };
}

function registerContract(name: string, open: () => Promise<{ stores: Stores; close(): Promise<void> }>): void {
  describe(`authn stores contract (${name})`, () => {
    let s: Stores;
    let close: () => Promise<void>;
    before(async () => { ({ stores: s, close } = await open()); });
    after(async () => { await close(); });

    it('returns a session as it was created, with amr and an absent auth_time', async () => {
      const a = session();
      const b = session({ amr: [], authTime: undefined });
      await s.sessions.create(a);
      await s.sessions.create(b);
      assert.deepEqual(await s.sessions.get(a.id), a);
      assert.deepEqual(await s.sessions.get(b.id), b);
      assert.equal(await s.sessions.get(id()), undefined);
    });

    it('records activity but never moves it backwards (another instance may have seen a later use)', async () => {
      const a = session();
      await s.sessions.create(a);
      assert.equal(await s.sessions.touch(a.id, a.lastSeenAt + 5000), true);
      assert.equal(await s.sessions.touch(a.id, a.lastSeenAt + 1000), true);
      assert.equal((await s.sessions.get(a.id))?.lastSeenAt, a.lastSeenAt + 5000);
      assert.equal(await s.sessions.touch(id(), Date.now()), false);
    });

    it('treats hostile session ids (NUL, lone surrogate, overlong) as unknown, not as a database error', async () => {
      for (const hostile of ['a\0b', '\ud800', 'x'.repeat(10_000)]) {
        assert.equal(await s.sessions.get(hostile), undefined);
        assert.equal(await s.sessions.touch(hostile, Date.now()), false);
        assert.equal(await s.sessions.delete(hostile), false);
      }
    });

    it('deletes one session, and every session of a subject', async () => {
      const a = session({ subject: 'carol' });
      const b = session({ subject: 'carol' });
      const c = session({ subject: 'dave' });
      for (const x of [a, b, c]) await s.sessions.create(x);
      assert.equal(await s.sessions.delete(a.id), true);
      assert.equal(await s.sessions.delete(a.id), false);
      assert.deepEqual(await s.sessions.deleteForSubject('carol'), [b.id]);
      assert.equal(await s.sessions.get(b.id), undefined);
      assert.deepEqual(await s.sessions.get(c.id), c);
    });

    it('prunes sessions past their absolute end or idle too long, and keeps live ones', async () => {
      const now = Date.now() + 100 * HOUR;
      const ended = session({ expiresAt: now - 1 });
      const idle = session({ lastSeenAt: now - 31 * 60_000, expiresAt: now + HOUR });
      const live = session({ lastSeenAt: now - 60_000, expiresAt: now + HOUR });
      for (const x of [ended, idle, live]) await s.sessions.create(x);
      assert.ok(await s.sessions.prune(now, 30 * 60_000) >= 2);
      assert.equal(await s.sessions.get(ended.id), undefined);
      assert.equal(await s.sessions.get(idle.id), undefined);
      assert.deepEqual(await s.sessions.get(live.id), live);
    });

    it('hands a pending login out once (a replayed callback finds nothing)', async () => {
      const loginId = id();
      const login = { state: 's', nonce: 'n', codeVerifier: 'v'.repeat(43), returnTo: '/app?x=1', expiresAt: Date.now() + 60_000 };
      await s.logins.put(loginId, login);
      assert.deepEqual(await s.logins.take(loginId, Date.now()), login);
      assert.equal(await s.logins.take(loginId, Date.now()), undefined);
    });

    it('hands a pending login to exactly one of two concurrent callbacks', async () => {
      const loginId = id();
      await s.logins.put(loginId, { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/', expiresAt: Date.now() + 60_000 });
      const results = await Promise.all(Array.from({ length: 5 }, () => s.logins.take(loginId, Date.now())));
      assert.equal(results.filter((r) => r !== undefined).length, 1);
    });

    it('refuses an expired pending login and consumes it', async () => {
      const loginId = id();
      await s.logins.put(loginId, { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/', expiresAt: Date.now() + 1000 });
      assert.equal(await s.logins.take(loginId, Date.now() + 2000), undefined);
      assert.equal(await s.logins.take(loginId, Date.now()), undefined);
      assert.equal(await s.logins.take('a\0b', Date.now()), undefined);
    });

    it('lists revoked token ids until their tokens expire, keeping the later expiry when revoked twice', async () => {
      const now = Math.floor(Date.now() / 1000);
      const a = `jti-${id()}`;
      const b = `jti-${id()}`;
      await s.revoked.add(ISSUER_A, a, now + 100);
      await s.revoked.add(ISSUER_A, a, now + 50);
      await s.revoked.add(ISSUER_A, b, now - 10);
      const active = await s.revoked.listActive(now);
      assert.deepEqual(active.filter((e) => e.jti === a), [{ issuer: ISSUER_A, jti: a, expiresAt: now + 100 }]);
      assert.equal(active.some((e) => e.jti === b), false);
      assert.ok(await s.revoked.prune(now) >= 1);
      assert.equal((await s.revoked.listActive(0)).some((e) => e.jti === b), false);
      assert.equal((await s.revoked.listActive(0)).some((e) => e.jti === a), true);
    });

    it('keeps the revocations of one jti by two issuers apart (a jti is unique only within its issuer)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const jti = `jti-${id()}`;
      await s.revoked.add(ISSUER_A, jti, now + 100);
      await s.revoked.add(ISSUER_B, jti, now - 10);
      const mine = (at: number) => s.revoked.listActive(at).then((all) => all.filter((e) => e.jti === jti).sort((x, y) => x.expiresAt - y.expiresAt));
      assert.deepEqual(await mine(0), [{ issuer: ISSUER_B, jti, expiresAt: now - 10 }, { issuer: ISSUER_A, jti, expiresAt: now + 100 }]);
      assert.deepEqual(await mine(now), [{ issuer: ISSUER_A, jti, expiresAt: now + 100 }]);
      await s.revoked.prune(now);
      assert.deepEqual(await mine(0), [{ issuer: ISSUER_A, jti, expiresAt: now + 100 }], 'pruning one issuer\'s entry kept the other');
    });

    it('accepts a DPoP proof key once, refuses its replay, and forgets it after it expired', async () => {
      const key = id();
      const now = Date.now();
      assert.equal(await s.proofs.firstUse(key, now + 200), true);
      assert.equal(await s.proofs.firstUse(key, now + 200), false);
      const shortLived = id();
      assert.equal(await s.proofs.firstUse(shortLived, now - 1), true);
      assert.equal(await s.proofs.firstUse(shortLived, now + 60_000), true, 'an expired record is not a replay');
    });

    it('lets exactly one of ten concurrent presentations of the same DPoP proof through', async () => {
      const key = id();
      const results = await Promise.all(Array.from({ length: 10 }, () => s.proofs.firstUse(key, Date.now() + 60_000)));
      assert.equal(results.filter(Boolean).length, 1);
    });
  });
}

registerContract('memory', async () => ({
  stores: { sessions: new MemorySessionStore(), logins: new MemoryLoginStateStore(), revoked: new MemoryRevokedTokenStore(), proofs: new MemoryReplayCache() },
  close: async () => {},
}));

function sqlStores(store: Store): Stores {
  return {
    sessions: createAuthnSessionRepo(store.db),
    logins: createAuthnLoginStateRepo(store.db),
    revoked: createAuthnRevokedTokenRepo(store.db),
    proofs: createAuthnDpopProofRepo(store.db),
  };
}

function registerSql(backend: Backend, skip: false | string): void {
  describe(`authn stores on ${backend}`, { skip }, () => {
    let db: TestDatabase;
    let store: Store;
    before(async () => { db = await createTestDatabase(backend); store = await db.open(); });
    after(async () => { try { await store?.close(); } finally { await db?.drop(); } });

    registerContract(backend, async () => ({ stores: sqlStores(store), close: async () => {} }));

    it('keeps sessions, revocations and seen proofs across a restart, and shares them with another instance', async () => {
      const a = session();
      const jti = `jti-${id()}`;
      const proof = id();
      const first = sqlStores(store);
      await first.sessions.create(a);
      await first.revoked.add(ISSUER_A, jti, Math.floor(Date.now() / 1000) + 600);
      assert.equal(await first.proofs.firstUse(proof, Date.now() + 60_000), true);
      const loginId = id();
      await first.logins.put(loginId, { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/', expiresAt: Date.now() + 60_000 });

      const other = await db.open();
      try {
        const second = sqlStores(other);
        assert.deepEqual(await second.sessions.get(a.id), a);
        assert.ok((await second.revoked.listActive(Math.floor(Date.now() / 1000))).some((e) => e.jti === jti));
        assert.equal(await second.proofs.firstUse(proof, Date.now() + 60_000), false, 'a proof used on one instance is a replay on another');
        assert.equal((await second.logins.take(loginId, Date.now()))?.state, 's', 'the callback may land on another instance');
        await second.sessions.delete(a.id);
      } finally {
        await other.close();
      }
      assert.equal(await first.sessions.get(a.id), undefined);
    });

    it('refuses a jti or issuer it cannot store with ERR_STORE_VALUE_INVALID and writes nothing', async () => {
      const repo = createAuthnRevokedTokenRepo(store.db);
      const before = (await repo.listActive(0)).length;
      const exp = Math.floor(Date.now() / 1000) + 60;
      const invalid = (e: unknown) => isGatehouseError(e) && e.code === 'ERR_STORE_VALUE_INVALID';
      for (const hostile of ['a\0b', 'x'.repeat(513), '']) {
        await assert.rejects(repo.add(ISSUER_A, hostile, exp), invalid);
        // '' would pass for a revocation recorded before revocations named the issuer (any issuer).
        await assert.rejects(repo.add(hostile, 'fine', exp), invalid);
      }
      await assert.rejects(repo.add(threeByteChars(400), threeByteChars(512), exp), invalid, 'over the size of one index entry');
      await assert.rejects(repo.add(ISSUER_A, 'fine', 1e400), invalid);
      assert.equal((await repo.listActive(0)).length, before);
      // The longest jti (512 three-byte characters) next to an issuer of about 1 kB is one valid index entry.
      const longIssuer = `https://${threeByteChars(338)}`;
      await repo.add(longIssuer, threeByteChars(512), exp);
      assert.ok((await repo.listActive(0)).some((e) => e.issuer === longIssuer));
    });

    it('prunes expired login states and DPoP proof records', async () => {
      const logins = createAuthnLoginStateRepo(store.db);
      const proofs = createAuthnDpopProofRepo(store.db);
      await logins.put(id(), { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/', expiresAt: Date.now() - 1 });
      await proofs.firstUse(id(), Date.now() - 1);
      assert.ok(await logins.prune(Date.now()) >= 1);
      assert.ok(await proofs.prune(Date.now()) >= 1);
      assert.equal(await logins.prune(Date.now()), 0);
    });
  });
}

function registerUpgrade(backend: Backend, skip: false | string): void {
  describe(`authn revocations recorded before they named the issuer (${backend})`, { skip }, () => {
    it('keep refusing a token of that jti, from any issuer, after migration 0006, until they expire', async () => {
      const db = await createTestDatabase(backend, { upTo: '0005-authn-sessions' });
      const store = await db.open();
      try {
        const now = Math.floor(Date.now() / 1000);
        // The table of 0005 is no longer in the typed schema.
        await (store.db as unknown as Kysely<any>).insertInto('authn_revoked_tokens').values([
          { jti: 'revoked-before', expires_at: (now + 600) * 1000, created_at: Date.now() },
          { jti: 'expired-before', expires_at: (now - 600) * 1000, created_at: Date.now() },
        ]).execute();
        await store.migrate();

        const repo = createAuthnRevokedTokenRepo(store.db);
        assert.deepEqual(await repo.listActive(now), [{ issuer: undefined, jti: 'revoked-before', expiresAt: now + 600 }]);
        const list = new RevocationList({ store: repo, onInvalidate: () => () => {}, publish: async () => {} });
        await list.load(now);
        for (const issuer of ['https://gw.test', ISSUER_A]) assert.equal(list.isRevoked(issuer, 'revoked-before'), true, issuer);
        assert.equal(list.isRevoked(ISSUER_A, 'expired-before'), false);

        // A revocation of the same jti by issuer lives next to it; pruning takes only what expired.
        await repo.add(ISSUER_A, 'revoked-before', now + 900);
        assert.equal(await repo.prune(now), 1);
        assert.deepEqual((await repo.listActive(now)).sort((x, y) => x.expiresAt - y.expiresAt), [
          { issuer: undefined, jti: 'revoked-before', expiresAt: now + 600 },
          { issuer: ISSUER_A, jti: 'revoked-before', expiresAt: now + 900 },
        ]);
      } finally {
        await store.close();
        await db.drop();
      }
    });
  });
}

registerSql('sqlite', false);
registerSql('postgres', await serviceOrSkip('postgres'));
registerUpgrade('sqlite', false);
registerUpgrade('postgres', await serviceOrSkip('postgres'));
