/**
 * An AccountLocker over the identity provider's user table: sets `lockedUntil` (never
 * shortening an existing lock), which the login service refuses until it passes. The
 * account is looked up by subject (user id) or by user name, as the request says, never
 * one for the other: a subject that is no user (a service's client id, another issuer's
 * principal) named the user of that name. An unknown account (attacks often use names that
 * do not exist) is not an error.
 */
import type { Store } from '../store/types.ts';
import { IdentityUsersRepo } from '../store/repos/identity-users-repo.ts';
import type { AccountLocker } from './types.ts';

export function createStoreAccountLocker(store: Store): AccountLocker {
  const users = new IdentityUsersRepo(store.db);
  return {
    async lockAccount({ account, by, until }) {
      const user = by === 'subject' ? await users.findById(account) : await users.findByUsername(account);
      if (!user) return;
      const t = until.getTime();
      if (user.lockedUntil !== undefined && user.lockedUntil >= t) return;
      await users.update(user.id, { lockedUntil: t });
    },
  };
}
