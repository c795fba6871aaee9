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
