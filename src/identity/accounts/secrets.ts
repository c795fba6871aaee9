/**
 * High-entropy secrets that Gatehouse generates itself (API tokens, client secrets,
 * recovery codes): random, recognizable by prefix, stored as SHA-256.
 *
 * SHA-256 without salt or stretching is right here because the secret has ≥ 128 bits of
 * entropy: there is nothing to brute-force, and a fast hash allows lookup by hash.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const API_TOKEN_PREFIX = 'ghs_';
export const CLIENT_SECRET_PREFIX = 'ghcs_';

/** `ghs_` + 32 random bytes in base64url (256 bits). */
export function generateApiToken(): string {
  return API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** A client secret for a service account: `ghcs_` + 256 random bits. */
export function generateClientSecret(): string {
  return CLIENT_SECRET_PREFIX + randomBytes(32).toString('base64url');
}

/** Ten-character recovery code from an unambiguous alphabet, shown as `xxxxx-xxxxx` (≈ 50 bits). */
export function generateRecoveryCode(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  let out = '';
  // randomInt is unbiased, unlike `byte % alphabet.length`.
  for (let i = 0; i < 10; i++) out += alphabet[randomInt(alphabet.length)];
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}

/** Normalizes user-typed recovery codes (case, spaces, dashes) before hashing. */
export function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/** Hex SHA-256 of a secret: what is stored and looked up. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
