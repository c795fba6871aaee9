/**
 * The credential a refused request presented, when the refusal says Gatehouse never issued it:
 * 16 hex digits of its SHA-256 (src/authn/refused-credential.ts), for the `gateway.request`
 * event (detection's `credentialGuessing`) and the request's audit record (`audit query` can
 * then tell whether one credential was tried from many addresses). Never the value.
 *
 * Counted: an unknown API token or a JWT with a forged signature (the `Authorization` header),
 * and a session cookie that no session answers to (`__Host-gatehouse-session=<value>`, so its
 * digest is not a prefix of the session's store id), also when a browser navigation was sent
 * to log in instead: those headers are the client's to choose, so they must not opt it out.
 * Only requests that were refused get here (`ctx.error`): an allowed request costs nothing.
 */
import { credentialDigest, UNISSUED_CREDENTIAL_CODES } from '../authn/refused-credential.ts';
import { readCookie, SESSION_COOKIE } from '../authn/session/cookies.ts';
import { GatehouseError } from '../core/errors.ts';
import type { RequestContext } from './context.ts';

export function refusedCredentialOf(ctx: RequestContext): string | undefined {
  const error = ctx.error;
  if (error === undefined || ctx.identity !== undefined) return undefined;
  if (UNISSUED_CREDENTIAL_CODES.has(error.code)) {
    const authorization = ctx.req.headers.authorization;
    return authorization === undefined ? undefined : credentialDigest(authorization);
  }
  if (!unknownSession(error)) return undefined;
  const cookies = readCookie(ctx.req.headers.cookie, SESSION_COOKIE);
  return cookies.length === 1 ? credentialDigest(`${SESSION_COOKIE}=${cookies[0]!}`) : undefined;
}

/** A refusal for a session cookie that no session answers to (session-manager.ts, authenticate.ts mark it), or the login redirect it caused. */
function unknownSession(error: GatehouseError): boolean {
  const refusal = error.code === 'ERR_AUTHN_LOGIN_REDIRECT' && error.cause instanceof GatehouseError ? error.cause : error;
  return refusal.code === 'ERR_AUTHN_SESSION_INVALID' && refusal.data?.unknownSession === true;
}
