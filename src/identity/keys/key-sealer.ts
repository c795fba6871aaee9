/**
 * Seals secrets at rest (private signing keys, cookie keys, TOTP secrets) as compact JWE
 * (`dir` + `A256GCM`, via `jose`) under the key-encryption secret.
 *
 * Where the secret comes from, in order: `identity.signing.keyEncryptionSecret`, the
 * environment variable named by `keyEncryptionSecretEnv`, and — in development only — a
 * secret generated once into `<dataDir>/identity-kek` (mode 0600). Production without a
 * configured secret is refused: a database dump alone must not yield the signing keys.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactEncrypt, compactDecrypt } from 'jose';
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import type { IdentityConfig } from '../../core/config/identity-schema.ts';

export interface KeySealer {
  seal(plaintext: string): Promise<string>;
  /** Throws ERR_IDENTITY_KEY_ENCRYPTION when the JWE was sealed under another secret or altered. */
  open(sealed: string): Promise<string>;
}

export interface SealerSource {
  mode: 'development' | 'production';
  dataDir: string;
  identity: IdentityConfig;
}

function decodeSecret(value: string, where: string): Uint8Array {
  const bytes = Buffer.from(value.trim(), 'base64url');
  if (bytes.length < 32) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${where}: key-encryption secret must decode to at least 32 bytes (base64url)` });
  }
  // A256GCM with `dir` needs exactly 32 bytes; a longer secret is cut, not rejected.
  return new Uint8Array(bytes.subarray(0, 32));
}

/** Resolves the key-encryption secret (see module doc) and returns a sealer. */
export function createKeySealer(source: SealerSource, logger: Logger): KeySealer {
  const { signing } = source.identity;
  let kek: Uint8Array;
  if (signing.keyEncryptionSecret) {
    kek = decodeSecret(signing.keyEncryptionSecret, 'identity.signing.keyEncryptionSecret');
  } else if (process.env[signing.keyEncryptionSecretEnv]) {
    kek = decodeSecret(process.env[signing.keyEncryptionSecretEnv]!, `environment variable ${signing.keyEncryptionSecretEnv}`);
  } else if (source.mode === 'production') {
    throw new GatehouseError('ERR_CONFIG_INSECURE_IN_PRODUCTION', {
      detail: `identity: no key-encryption secret (set identity.signing.keyEncryptionSecret or ${signing.keyEncryptionSecretEnv})`,
    });
  } else {
    const file = join(source.dataDir, 'identity-kek');
    let value: string;
    try {
      value = readFileSync(file, 'utf8');
    } catch {
      mkdirSync(source.dataDir, { recursive: true, mode: 0o700 });
      value = randomBytes(32).toString('base64url');
      // 'wx': never overwrite a secret another process just wrote.
      try { writeFileSync(file, value, { mode: 0o600, flag: 'wx' }); } catch { value = readFileSync(file, 'utf8'); }
    }
    logger.warn({ file }, 'identity: signing keys are sealed with a generated development secret; configure identity.signing.keyEncryptionSecret for production');
    kek = decodeSecret(value, file);
  }
  return {
    async seal(plaintext) {
      return new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'gatehouse-sealed' }).encrypt(kek);
    },
    async open(sealed) {
      try {
        const { plaintext } = await compactDecrypt(sealed, kek, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
        return new TextDecoder().decode(plaintext);
      } catch (cause) {
        throw new GatehouseError('ERR_IDENTITY_KEY_ENCRYPTION', { detail: 'sealed secret does not open with the configured key-encryption secret', cause });
      }
    },
  };
}
