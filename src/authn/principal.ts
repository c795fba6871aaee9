/**
 * Resolving a verified subject to an enabled principal, with one code per refusal.
 */
import { GatehouseError } from '../core/errors.ts';
import type { Principal, PrincipalLookup } from './types.ts';

/**
 * Whether a sign-in at `signedInAtSec` (epoch seconds) was ended by the principal's sign-out
 * everywhere (`signedOutAt`). The second of the sign-out counts as before it; an unknown time
 * counts as ended once there is one.
 */
export function signedOutSince(principal: Principal, signedInAtSec: number | undefined): boolean {
  const at = principal.signedOutAt;
  return at !== undefined && (signedInAtSec === undefined || signedInAtSec <= at);
}

/** Resolves the principal or throws ERR_AUTHN_PRINCIPAL_UNKNOWN / _DISABLED / ERR_AUTHN_UNAVAILABLE. */
export async function requireEnabledPrincipal(lookup: PrincipalLookup, subject: string): Promise<Principal> {
  // No directory id contains `#` ({@link issuerQualifiedSubject}): one that did could pass for another issuer's principal.
  if (isIssuerQualified(subject)) throw new GatehouseError('ERR_AUTHN_PRINCIPAL_UNKNOWN', { detail: `no principal ${subject} (a directory id has no '#')` });
  let principal: Principal | undefined;
  try {
    principal = await lookup.getPrincipal(subject);
  } catch (error) {
    // Fail closed: a directory we cannot reach does not vouch for anyone.
    throw new GatehouseError('ERR_AUTHN_UNAVAILABLE', { detail: `principal lookup failed for ${subject}`, cause: error });
  }
  if (principal === undefined) throw new GatehouseError('ERR_AUTHN_PRINCIPAL_UNKNOWN', { detail: `no principal ${subject}` });
  if (principal.disabled) throw new GatehouseError('ERR_AUTHN_PRINCIPAL_DISABLED', { detail: `principal ${subject} is disabled` });
  return principal;
}

/**
 * The principal id of a subject named by an issuer that vouches for its own principals
 * (`principals: claims`): `<issuer>#<sub>`, e.g. `https://idp.example.com#alice`.
 *
 * Such an issuer picks its `sub` values freely, so a bare `sub` could be the id of one of
 * Gatehouse's own principals (`usr_…`, a client id, a SPIFFE id) or of another issuer's:
 * blocks, detection counts, rate limits, policies and the upstream assertion would then take
 * one for the other. Gatehouse's own ids never contain `#` (user ids are `usr_` + base64url,
 * client ids `[a-z0-9._-]`, SPIFFE ids have no fragment), and `%` and `#` in the issuer are
 * percent-encoded, so the first `#` always ends the issuer: no two (issuer, sub) pairs, and
 * no pair and local id, share a principal id.
 */
export function issuerQualifiedSubject(issuer: string, sub: string): string {
  return `${issuer.replaceAll('%', '%25').replaceAll('#', '%23')}#${sub}`;
}

/** Whether a principal id names another issuer's principal ({@link issuerQualifiedSubject}) rather than one of Gatehouse's directory. */
export function isIssuerQualified(subject: string): boolean {
  return subject.includes('#');
}
