/**
 * Password hashing with Argon2id (Node's built-in `crypto.argon2`, RFC 9106).
 *
 * Parameters: m = 19 MiB, t = 2, p = 1 — the OWASP Password Storage Cheat Sheet's
 * first recommended Argon2id configuration. It keeps a login to ~20–40 ms of one core
 * so that a login storm cannot starve the gateway on a small machine, while a GPU
 * attacker still pays 19 MiB per guess. The parameters are stored with every hash
 * (PHC string format), so raising them later only affects new and re-hashed passwords;
 * `needsRehash` tells the login path when to upgrade a hash.
 */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { GatehouseError } from '../../core/errors.ts';

const argon2Async = promisify(argon2);

export const PASSWORD_PARAMS = { memory: 19 * 1024, passes: 2, parallelism: 1, tagLength: 32 } as const;
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

/** Refuses passwords that are too short or absurdly long (hashing cost is bounded). */
export function assertPasswordAcceptable(password: string): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new GatehouseError('ERR_IDENTITY_PASSWORD_WEAK', {
      publicMessage: `Password must have between ${PASSWORD_MIN_LENGTH} and ${PASSWORD_MAX_LENGTH} characters`,
    });
  }
}

/** Hashes a password into a PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  const nonce = randomBytes(16);
  const tag = await argon2Async('argon2id', { message: password.normalize('NFC'), nonce, ...PASSWORD_PARAMS });
  return `$argon2id$v=19$m=${PASSWORD_PARAMS.memory},t=${PASSWORD_PARAMS.passes},p=${PASSWORD_PARAMS.parallelism}$${b64(nonce)}$${b64(tag)}`;
}

interface ParsedHash { memory: number; passes: number; parallelism: number; nonce: Buffer; tag: Buffer }

function parse(phc: string): ParsedHash | undefined {
  const m = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{16,})$/.exec(phc);
  if (!m) return undefined;
  return {
    memory: Number(m[1]), passes: Number(m[2]), parallelism: Number(m[3]),
    nonce: Buffer.from(m[4]!, 'base64'), tag: Buffer.from(m[5]!, 'base64'),
  };
}

/** Constant-time verification; a malformed stored hash verifies as false (fail closed). */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  const parsed = parse(phc);
  if (!parsed) return false;
  const tag = await argon2Async('argon2id', {
    message: password.normalize('NFC'), nonce: parsed.nonce,
    memory: parsed.memory, passes: parsed.passes, parallelism: parsed.parallelism, tagLength: parsed.tag.length,
  });
  return tag.length === parsed.tag.length && timingSafeEqual(tag, parsed.tag);
}

/** True when the stored hash was made with weaker parameters than today's. */
export function needsRehash(phc: string): boolean {
  const parsed = parse(phc);
  return !parsed || parsed.memory < PASSWORD_PARAMS.memory || parsed.passes < PASSWORD_PARAMS.passes;
}

let dummyHash: Promise<string> | undefined;
/**
 * Burns the same time as a real verification for an unknown user, so that response
 * timing does not reveal which user names exist.
 */
export async function verifyDummyPassword(password: string): Promise<void> {
  dummyHash ??= hashPassword('gatehouse-dummy-password');
  await verifyPassword(await dummyHash, password);
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}
