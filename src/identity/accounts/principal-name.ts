/**
 * What an operator types for a principal — a user name, an e-mail, a user id, a client id,
 * a SPIFFE id, an external issuer's `<issuer>#<sub>` — as the principal id Gatehouse stores
 * (blocks, audit actors and rate-limit keys all use ids: `usr_…`, not `alice`).
 */
import { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import { IdentityUsersRepo } from '../../store/repos/identity-users-repo.ts';
import type { Store } from '../../store/types.ts';

export interface ResolvedPrincipalName {
  /** The principal id. */
  id: string;
  /** The user name or e-mail it was resolved from, when it was one. */
  from?: string;
}

/**
 * The principal `name` names, or undefined when it names none Gatehouse knows. Ids Gatehouse
 * cannot look up (an external issuer's `<issuer>#<sub>`, a SPIFFE id of a service without a
 * client) are taken as given.
 */
export async function resolvePrincipalName(store: Store, name: string): Promise<ResolvedPrincipalName | undefined> {
  if (name.includes('#') || name.startsWith('spiffe://')) return { id: name };
  const users = new IdentityUsersRepo(store.db);
  if (name.startsWith('usr_')) return (await users.findById(name)) ? { id: name } : undefined;
  if (await new IdentityClientsRepo(store.db).find(name)) return { id: name };
  const user = (await users.findByUsername(name.toLowerCase())) ?? (name.includes('@') ? await users.findByEmail(name) : undefined);
  return user ? { id: user.id, from: name } : undefined;
}
