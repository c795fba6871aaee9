/**
 * Lookups of the identity repositories with values that come straight from a request (the
 * login form's user name, an OAuth request's client_id, an external IdP's `sub`), run inside
 * the store contract for every backend: a value no row can hold is "not found" on both, never
 * a database error on one of them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/index.ts';
import { IdentityApiTokensRepo } from '../../src/store/repos/identity-api-tokens-repo.ts';
import { IdentityClientsRepo } from '../../src/store/repos/identity-clients-repo.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';

// NUL: PostgreSQL text cannot hold it (it refused the query with ERR_STORE_VALUE_INVALID, a 500,
// where SQLite answered "no such user"). A lone surrogate has no UTF-8 form: both drivers send
// U+FFFD instead, so it would match a row holding U+FFFD.
const HOSTILE = ['alice\u0000', '\u0000', 'alice\uD800', 'svc-\uDC00x'];

export function registerIdentityLookupContract(getStore: () => Store): void {
  describe('identity lookups with request-supplied values', () => {
    it('a user name, e-mail, id or federated subject with NUL or a lone surrogate is not found, not a store error', async () => {
      const users = new IdentityUsersRepo(getStore().db);
      await users.insert({ id: 'u-lookup-1', username: 'alice\uFFFD', email: 'alice\uFFFD@example.com', roles: [] });
      await users.link('https://idp.example', 'sub\uFFFD', 'u-lookup-1');
      for (const value of HOSTILE) {
        assert.equal(await users.findByUsername(value), undefined, JSON.stringify(value));
        assert.equal(await users.findByEmail(`${value}@example.com`), undefined, JSON.stringify(value));
        assert.equal(await users.findById(value), undefined, JSON.stringify(value));
        assert.equal(await users.findLinkedUser('https://idp.example', value), undefined, JSON.stringify(value));
        assert.equal(await users.findLinkedUser(value, 'sub\uFFFD'), undefined, JSON.stringify(value));
      }
      assert.equal(await users.findLinkedUser('https://idp.example', 'sub\uD800'), undefined, 'a lone surrogate does not match U+FFFD');
      assert.equal((await users.findByUsername('alice\uFFFD'))?.id, 'u-lookup-1', 'the stored user is still found by its real name');
    });

    it('a client_id with NUL or a lone surrogate is not found, not a store error', async () => {
      const clients = new IdentityClientsRepo(getStore().db);
      await clients.insert({
        clientId: 'svc-\uFFFDx', kind: 'service', name: 'lookup', metadata: {}, secretHash: undefined,
        roles: [], allowedScopes: [], allowedAudiences: [],
      });
      for (const value of HOSTILE) assert.equal(await clients.find(value), undefined, JSON.stringify(value));
      assert.equal((await clients.find('svc-\uFFFDx'))?.name, 'lookup');
    });

    it('an API token id or hash with NUL or a lone surrogate (token revoke by id) is not found, not a store error', async () => {
      const tokens = new IdentityApiTokensRepo(getStore().db);
      await tokens.insert({ id: 'tok-\uFFFDx', tokenHash: 'hash-\uFFFDx', name: 'lookup', ownerKind: 'user', ownerId: 'u-lookup-1', roles: [], expiresAt: 2e12, createdAt: 1e12 });
      for (const value of HOSTILE) {
        assert.equal(await tokens.find(value), undefined, JSON.stringify(value));
        assert.equal(await tokens.findByHash(value), undefined, JSON.stringify(value));
      }
      assert.equal((await tokens.find('tok-\uFFFDx'))?.name, 'lookup');
    });
  });
}
