/**
 * The principal directory: what the gateway's authentication stage asks about a subject
 * (a user id `usr_…` or a service account's client id). Reads the store every time; the
 * caller caches and drops entries on `principal.changed` events.
 */
import type { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';
import type { IdentityUsersRepo } from '../../store/repos/identity-users-repo.ts';

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

export function createPrincipalDirectory(users: IdentityUsersRepo, clients: IdentityClientsRepo): PrincipalDirectory {
  return {
    async getPrincipal(subject) {
      if (subject.startsWith(USER_ID_PREFIX)) {
        const user = await users.findById(subject);
        if (!user) return undefined;
        return Object.freeze({
          subject: user.id, kind: 'user' as const, roles: Object.freeze([...user.roles]), disabled: user.disabled,
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
