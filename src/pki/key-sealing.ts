/**
 * Encryption of CA private keys at rest.
 *
 * Each sealed key gets its own random salt; the AES-256-GCM key is derived from the master
 * key with HKDF-SHA256 and the key's label (`root`, `intermediate`) as context, and the label
 * is also bound as additional authenticated data, so a sealed blob cannot be swapped for
 * another's. A wrong master key or any altered byte fails authentication: fail closed.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { GatehouseError } from '../core/errors.ts';

const VERSION = 1;
const ALG = 'A256GCM+HKDF-SHA256';

interface SealedEnvelope {
  v: number;
  alg: string;
  salt: string;
  iv: string;
  ct: string;
  tag: string;
}

function deriveKey(masterKey: Uint8Array, salt: Uint8Array, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, salt, `gatehouse/pki/v${VERSION}/${label}`, 32));
}

/**
 * Encrypts a private key (PKCS#8 DER) under the master key.
 * @returns a JSON string safe to store in the database.
 */
export function sealPrivateKey(pkcs8: Uint8Array, masterKey: Uint8Array, label: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(masterKey, salt, label), iv);
  cipher.setAAD(Buffer.from(label, 'utf8'));
  const ct = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  const envelope: SealedEnvelope = {
    v: VERSION, alg: ALG,
    salt: salt.toString('base64url'), iv: iv.toString('base64url'),
    ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'),
  };
  return JSON.stringify(envelope);
}

/**
 * Decrypts a key sealed by {@link sealPrivateKey}.
 * @throws GatehouseError ERR_PKI_KEY_UNSEAL_FAILED on a wrong master key, label or tampered blob.
 */
export function unsealPrivateKey(sealed: string, masterKey: Uint8Array, label: string): Buffer {
  try {
    const e = JSON.parse(sealed) as Partial<SealedEnvelope>;
    if (e.v !== VERSION || e.alg !== ALG || typeof e.salt !== 'string' || typeof e.iv !== 'string' || typeof e.ct !== 'string' || typeof e.tag !== 'string') {
      throw new Error('unknown envelope format');
    }
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(masterKey, Buffer.from(e.salt, 'base64url'), label), Buffer.from(e.iv, 'base64url'));
    decipher.setAAD(Buffer.from(label, 'utf8'));
    const tag = Buffer.from(e.tag, 'base64url');
    if (tag.length !== 16) throw new Error('bad tag length');
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(e.ct, 'base64url')), decipher.final()]);
  } catch (cause) {
    throw new GatehouseError('ERR_PKI_KEY_UNSEAL_FAILED', { detail: `cannot decrypt the ${label} key (wrong master key or altered data)`, cause });
  }
}
