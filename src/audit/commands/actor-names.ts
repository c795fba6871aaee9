/**
 * The actor values `audit query --actor` / `audit export --actor` match. Records name a user
 * by id (`usr_…`) — except a failed login, which names the account as typed (`alice`, or
 * `alice@example.com`: sign-in takes either) when it carries no subject (unknown account,
 * blocked address). An operator asking "what did alice do" with `--actor alice` got only those
 * failures and read the rest as "nothing"; with `--actor usr_…` the failures were missing. A
 * user is matched by every name it is recorded under: its id, its user name, its e-mail, and
 * the name given.
 */
import { resolvePrincipalName } from '../../identity/accounts/principal-name.ts';
import { IdentityUsersRepo } from '../../store/repos/identity-users-repo.ts';
import type { Store } from '../../store/types.ts';

export async function actorNames(store: Store, actor: string): Promise<readonly string[]> {
  const resolved = await resolvePrincipalName(store, actor);
  // A name no principal has: failed logins of an unknown account are recorded under it.
  if (resolved === undefined) return [actor];
  const names = new Set([actor, resolved.id]);
  if (resolved.id.startsWith('usr_')) {
    const user = await new IdentityUsersRepo(store.db).findById(resolved.id);
    if (user) {
      names.add(user.username);
      // As the login service records a typed identifier: lower-cased (trimmed, at most 256 characters).
      if (user.email !== undefined) names.add(user.email.trim().toLowerCase().slice(0, 256));
    }
  }
  return [...names];
}
