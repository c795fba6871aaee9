/**
 * The scope rule for client-credentials tokens (RFC 6749 §3.3 asks a server to either apply a
 * documented default or refuse a request without `scope`, and to document it):
 * - no `scope`: the default is the empty set — a token with no scope, never the client's
 *   allowed scopes (the service is authorized by its roles; it names any scope it needs);
 * - every scope named must be one of the client's allowed (resource) scopes; any other —
 *   unknown, another client's, an OpenID scope such as `openid` or `offline_access` — refuses
 *   the whole request with invalid_scope. oidc-provider would drop it silently and issue the
 *   rest, so a misconfigured client learnt nothing and a scope check downstream was the only
 *   thing standing between the client and what it asked for.
 */
import { errors } from 'oidc-provider';

/** Throws invalid_scope unless every scope in `requested` (space-separated) is in `allowed`. */
export function assertClientCredentialsScope(requested: unknown, allowed: readonly string[]): void {
  if (requested === undefined) return;
  const names = typeof requested === 'string' ? requested.split(' ').filter(Boolean) : [''];
  const refused = names.find((s) => !allowed.includes(s));
  if (refused !== undefined) throw new errors.InvalidScope!('requested scope is not allowed for this client', refused);
}
