/**
 * The principal id that `alerts block --subject` / `unblock --subject` mean. Blocks match
 * principal ids (`usr_…`, a client id, a SPIFFE id, `<issuer>#<sub>`), so a block stored on
 * what an operator naturally types — a user name — matched nothing while the operator
 * believed the user blocked. A user name or e-mail is resolved to the user's id; a subject
 * that names no principal Gatehouse knows is refused, except the ids Gatehouse cannot look
 * up (an external issuer's `<issuer>#<sub>`, a SPIFFE id of a service without a client).
 */
import { GatehouseError } from '../../core/errors.ts';
import { resolvePrincipalName, type ResolvedPrincipalName } from '../../identity/accounts/principal-name.ts';
import type { Store } from '../../store/types.ts';

export type ResolvedSubject = ResolvedPrincipalName;

/** For a block: the principal id, or ERR_DETECT_BLOCK_INVALID when `subject` names no principal. */
export async function resolveBlockSubject(store: Store, subject: string): Promise<ResolvedSubject> {
  const found = await resolvePrincipalName(store, subject);
  if (found !== undefined) return found;
  throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', {
    publicMessage: `no principal "${subject}": give a user id (usr_…), user name or e-mail, a client id, a SPIFFE id (spiffe://…) or an external issuer's <issuer>#<sub>`,
  });
}

/** For a lift: the principal id when `subject` names one, else `subject` as given (a block stored before names were resolved). */
export async function resolveLiftSubject(store: Store, subject: string): Promise<ResolvedSubject> {
  return (await resolvePrincipalName(store, subject)) ?? { id: subject };
}

