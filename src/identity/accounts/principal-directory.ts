/**
 * The principal directory: what the gateway's authentication stage asks about a subject
 * (a user id `usr_…` or a service account's client id). Reads the store every time; the
 * caller caches and drops entries on `principal.changed` events.
 */
import type { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import type { IdentityUsersRepo } from '../../store/repos/identity-users-repo.ts';
import type { SignOutCutoffs } from './sign-out-cutoff.ts';

/** A user or service account as the gateway sees it. */
export interface Principal {
  subject: string;
  kind: 'user' | 'service';
  roles: readonly string[];
  /**
   * Disabled by an administrator: refuse everywhere. A user locked by failed sign-ins is not
   * disabled (`attributes.lockedUntil` says so): the lock stops password sign-in, not sessions.
   */
  disabled: boolean;
  /** Epoch seconds of the user's last sign-out everywhere (password or MFA reset, disabled): earlier sign-ins are over. */
  signedOutAt?: number;
  attributes: Readonly<{
    username?: string;
    email?: string;
    emailVerified?: boolean;
    clientId?: string;
    mfaEnrolled?: boolean;
    lockedUntil?: number;
    allowedScopes?: readonly string[];
    allowedAudiences?: readonly string[];
  }>;
}

export interface PrincipalDirectory {
  /** The principal, or undefined for an unknown subject. Rejects only when the store is unreachable. */
  getPrincipal(subject: string): Promise<Principal | undefined>;
}

export const USER_ID_PREFIX = 'usr_';

/**
 * @param cutoffs where the provider keeps each user's sign-out everywhere; with it, principals
 *   carry `signedOutAt` so that the gateway ends sessions and tokens from before a reset too.
 */
export function createPrincipalDirectory(users: IdentityUsersRepo, clients: IdentityClientsRepo, cutoffs?: SignOutCutoffs): PrincipalDirectory {
  return {
    async getPrincipal(subject) {
      if (subject.startsWith(USER_ID_PREFIX)) {
        const user = await users.findById(subject);
        if (!user) return undefined;
        const signedOutAt = await cutoffs?.at(user.id);
        return Object.freeze({
          subject: user.id, kind: 'user' as const, roles: Object.freeze([...user.roles]), disabled: user.disabled,
          ...(signedOutAt === undefined ? {} : { signedOutAt }),
          attributes: Object.freeze({
            username: user.username, ...(user.email ? { email: user.email, emailVerified: user.emailVerified } : {}),
            mfaEnrolled: user.totpEnabled, ...(user.lockedUntil && user.lockedUntil > Date.now() ? { lockedUntil: user.lockedUntil } : {}),
          }),
        });
      }
      const client = await clients.find(subject);
      if (!client || client.kind !== 'service') return undefined;
      return Object.freeze({
        subject: client.clientId, kind: 'service' as const, roles: Object.freeze([...client.roles]), disabled: client.disabled,
        attributes: Object.freeze({ clientId: client.clientId, allowedScopes: Object.freeze([...client.allowedScopes]), allowedAudiences: Object.freeze([...client.allowedAudiences]) }),
      });
    },
  };
}
