/**
 * Ends the provider's sign-in session of one browser from inside the process: the gateway's
 * logout (`/_gatehouse/auth/logout`) calls it, so that "log out" does not leave the IdP's
 * session cookie behind to sign the next visitor of that browser in without a password.
 *
 * It does what oidc-provider's own sign-out (`/oidc/session/end`, "Sign out") does to the
 * session, without its confirmation page: every grant made in the session is revoked (codes,
 * opaque access tokens), except those with `offline_access`, which oidc-provider keeps across
 * logouts (`persistsLogout`); then the session record is deleted from the store, so it is gone
 * for every instance. Relying parties are not notified (no front- or back-channel logout).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { IdentityEmit } from '../events.ts';

export interface EndedBrowserSession {
  /** The account signed in by the session that was ended; undefined when the browser had none. */
  subject: string | undefined;
  /** `Set-Cookie` values that remove the provider's session cookie (and its signature) from the browser. */
  clearCookies: string[];
}

interface SessionAuthorization { grantId?: unknown; persistsLogout?: unknown }

export async function endBrowserSession(provider: Provider, emit: IdentityEmit, req: IncomingMessage, res: ServerResponse): Promise<EndedBrowserSession> {
  const name = provider.cookieName('session');
  // oidc-provider sets it host-only on Path=/ (cookies.long); the same name and path remove it.
  const clearCookies = [name, `${name}.sig`].map((n) => `${n}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; secure; samesite=lax; httponly`);
  // Read as the provider reads it: a value without the provider's signature names no session.
  const id = provider.createContext(req, res).cookies.get(name, { signed: true });
  const session = id ? await provider.Session.find(id) : undefined;
  // Already gone (expired, ended at the IdP, or never signed in here): nothing left to end.
  if (session === undefined) return { subject: undefined, clearCookies };
  const authorizations = Object.entries((session.authorizations ?? {}) as Record<string, SessionAuthorization>);
  await Promise.all(authorizations.map(async ([clientId, { grantId, persistsLogout }]) => {
    if (typeof grantId !== 'string' || grantId === '' || persistsLogout === true) return;
    await Promise.all([
      provider.AccessToken.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
      provider.Grant.adapter.destroy(grantId),
    ]);
    emit('identity.grant.revoked', { grantId, clientId, reason: 'gateway_logout' });
  }));
  await session.destroy();
  return { subject: typeof session.accountId === 'string' ? session.accountId : undefined, clearCookies };
}
