/**
 * A credential refused as one Gatehouse never issued — an unknown (or dead) API token, a JWT
 * whose signature does not verify, a client secret or assertion the token endpoint refuses —
 * is named in its refusal's event by a short digest, so that anomaly detection can count the
 * distinct credentials one client address presents (docs/detection.md, credentialGuessing).
 *
 * Distinct, not every refusal: a client retrying one dead token is one credential however often
 * it retries; a client trying many is guessing or replaying a leaked list. Refusals of a valid
 * credential used wrongly (expired, wrong audience, unbound) are not counted: a misconfigured
 * client fetching a fresh token for each call would otherwise look like many guesses.
 *
 * The digest is 64 bits of SHA-256: it tells presentations of one credential from another's and
 * reveals nothing of a high-entropy secret (every one Gatehouse issues has 256 bits).
 */
import { createHash } from 'node:crypto';

/** Gateway refusals (401) of a credential that does not exist or was forged. */
export const UNISSUED_CREDENTIAL_CODES: ReadonlySet<string> = new Set(['ERR_AUTHN_API_TOKEN_INVALID', 'ERR_AUTHN_TOKEN_SIGNATURE']);

/** 16 hex digits of the SHA-256 of what was presented. */
export function credentialDigest(presented: string): string {
  return createHash('sha256').update(presented, 'utf8').digest('hex').slice(0, 16);
}
