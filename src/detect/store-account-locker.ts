/**
 * An AccountLocker over the identity provider's user table: sets `lockedUntil` (never
 * shortening an existing lock), which the login service refuses until it passes. The
 * account is looked up by subject (user id) first, then by user name; an unknown name
 * (attacks often use names that do not exist) is not an error.
 */
import type { Store } from '../store/types.ts';
import { IdentityUsersRepo } from '../store/repos/identity-users-repo.ts';
import type { AccountLocker } from './types.ts';

export function createStoreAccountLocker(store: Store): AccountLocker {
  const users = new IdentityUsersRepo(store.db);
  return {
    async lockAccount({ account, until }) {
      const user = (await users.findById(account)) ?? (await users.findByUsername(account));
      if (!user) return;
      const t = until.getTime();
      if (user.lockedUntil !== undefined && user.lockedUntil >= t) return;
      await users.update(user.id, { lockedUntil: t });
    },
  };
}
