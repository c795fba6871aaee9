/**
 * The principal id that `alerts block --subject` / `unblock --subject` mean. Blocks match
 * principal ids (`usr_…`, a client id, a SPIFFE id, `<issuer>#<sub>`), so a block stored on
 * what an operator naturally types — a user name — matched nothing while the operator
 * believed the user blocked. A user name or e-mail is resolved to the user's id; a subject
 * that names no principal Gatehouse knows is refused, except the ids Gatehouse cannot look
 * up (an external issuer's `<issuer>#<sub>`, a SPIFFE id of a service without a client).
 */
import { GatehouseError } from '../../core/errors.ts';
import { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import { IdentityUsersRepo } from '../../store/repos/identity-users-repo.ts';
import type { Store } from '../../store/types.ts';

export interface ResolvedSubject {
  /** The principal id the block is stored under. */
  id: string;
  /** The user name or e-mail it was resolved from, when it was one. */
  from?: string;
}

/** For a block: the principal id, or ERR_DETECT_BLOCK_INVALID when `subject` names no principal. */
export async function resolveBlockSubject(store: Store, subject: string): Promise<ResolvedSubject> {
  const found = await lookup(store, subject);
  if (found !== undefined) return found;
  throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', {
    publicMessage: `no principal "${subject}": give a user id (usr_…), user name or e-mail, a client id, a SPIFFE id (spiffe://…) or an external issuer's <issuer>#<sub>`,
  });
}

/** For a lift: the principal id when `subject` names one, else `subject` as given (a block stored before names were resolved). */
export async function resolveLiftSubject(store: Store, subject: string): Promise<ResolvedSubject> {
  return (await lookup(store, subject)) ?? { id: subject };
}

async function lookup(store: Store, subject: string): Promise<ResolvedSubject | undefined> {
  if (subject.includes('#') || subject.startsWith('spiffe://')) return { id: subject };
  const users = new IdentityUsersRepo(store.db);
  if (subject.startsWith('usr_')) return (await users.findById(subject)) ? { id: subject } : undefined;
  if (await new IdentityClientsRepo(store.db).find(subject)) return { id: subject };
  const user = (await users.findByUsername(subject.toLowerCase())) ?? (subject.includes('@') ? await users.findByEmail(subject) : undefined);
  return user ? { id: user.id, from: subject } : undefined;
}
