/**
 * One-time bootstrap tokens: the first proof of identity a workload presents to get its
 * certificate. 256 random bits, bound to one SPIFFE id (and the DNS/IP names it may ask
 * for), expiring, stored only as a SHA-256 hash and consumed atomically by the store.
 *
 * Format: `gbt_<id>_<secret>`; the id is public (logs, audit), the secret never leaves the
 * caller that created it.
 */
import { createHash, randomBytes } from 'node:crypto';

export const BOOTSTRAP_TOKEN_PREFIX = 'gbt_';
const FORMAT = /^gbt_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewBootstrapToken {
  id: string;
  token: string;
  tokenHash: string;
}

export function hashBootstrapToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateBootstrapToken(): NewBootstrapToken {
  let id: string;
  // An id starting with '-' reads as an option on a command line (`bootstrap-token revoke <id>`).
  do { id = randomBytes(12).toString('base64url'); } while (id.startsWith('-'));
  const token = `${BOOTSTRAP_TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  return { id, token, tokenHash: hashBootstrapToken(token) };
}

/** The public id of a well-formed token, or undefined (then it cannot be valid). */
export function bootstrapTokenId(token: string): string | undefined {
  return FORMAT.exec(token)?.[1];
}
