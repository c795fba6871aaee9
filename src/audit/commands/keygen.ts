/** `gatehouse audit keygen --out FILE`: a new Ed25519 checkpoint signing key (0600, never overwritten). */
import { writeFile } from 'node:fs/promises';
import { GatehouseError } from '../../core/errors.ts';
import { generateSigningJwk } from '../signing-key.ts';

export async function auditKeygenCommand(out: string): Promise<{ file: string; kid: string; publicJwk: { kty: string; crv: string; x: string; kid: string } }> {
  const jwk = await generateSigningJwk();
  try {
    await writeFile(out, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    throw new GatehouseError('ERR_AUDIT_KEY_INVALID', { detail: `cannot create ${out} (it must not exist yet)`, cause });
  }
  return { file: out, kid: jwk.kid!, publicJwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, kid: jwk.kid! } };
}
