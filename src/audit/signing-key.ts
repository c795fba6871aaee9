/**
 * The audit signing key: an Ed25519 key pair kept as a private JWK file (mode 0600).
 * In development a missing key is generated with a warning; in production it must be
 * provisioned (`gatehouse audit keygen --out FILE`), because a key generated on the fly
 * on an ephemeral disk would make yesterday's checkpoints unverifiable.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';

export interface AuditSigningKey {
  kid: string;
  privateKey: webcrypto.CryptoKey;
  publicJwk: JWK;
}

/** Generates a new Ed25519 private JWK (with `kid`), as written by `audit keygen`. */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('Ed25519', { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! });
  jwk.alg = 'EdDSA';
  return jwk;
}

/** Parses a private Ed25519 JWK. Throws ERR_AUDIT_KEY_INVALID. */
export async function signingKeyFromJwk(jwk: JWK): Promise<AuditSigningKey> {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || typeof jwk.d !== 'string') {
    throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: 'the audit signing key must be a private Ed25519 JWK (kty OKP, crv Ed25519, x, d)' });
  }
  try {
    const privateKey = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, 'EdDSA');
    const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
    const kid = await calculateJwkThumbprint(publicJwk);
    return { kid, privateKey: privateKey as webcrypto.CryptoKey, publicJwk: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' } };
  } catch (cause) {
    throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: 'the audit signing key could not be imported', cause });
  }
}

/**
 * Loads the key from `file`; when it does not exist, generates it in development (warning)
 * and throws ERR_AUDIT_KEY_MISSING in production.
 */
export async function loadOrCreateSigningKey(file: string, options: { mode: 'development' | 'production'; logger?: Logger }): Promise<AuditSigningKey> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: `cannot read ${file}`, cause: err });
  }
  if (text === undefined) {
    if (options.mode === 'production') {
      throw new GatehouseError('ERR_AUDIT_KEY_MISSING', { detail: `${file} does not exist; create it with \`gatehouse audit keygen --out ${file}\`` });
    }
    const jwk = await generateSigningJwk();
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    try {
      // 'wx': another instance that raced us wins, and we read its key below.
      await writeFile(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: 'wx' });
      options.logger?.warn({ file, kid: jwk.kid }, 'DEVELOPMENT SETTING: generated an audit checkpoint signing key — refused when NODE_ENV=production; keep this file, it is what makes checkpoints verifiable');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: `cannot write ${file}`, cause: err });
    }
    text = await readFile(file, 'utf8');
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch (cause) {
    throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: `${file} is not JSON`, cause });
  }
  return signingKeyFromJwk(jwk);
}

/** Reads public (or private) JWK files; the private part is dropped. */
export async function loadTrustedKeys(files: readonly string[]): Promise<JWK[]> {
  const keys: JWK[] = [];
  for (const file of files) {
    let jwk: JWK;
    try {
      jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
    } catch (cause) {
      throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: `cannot read public key ${file}`, cause });
    }
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: `${file} is not an Ed25519 JWK` });
    keys.push({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }) });
  }
  return keys;
}
