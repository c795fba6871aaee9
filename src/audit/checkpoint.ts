/**
 * Signed checkpoints: "chain C had hash H at seq S" as a compact JWS (EdDSA, Ed25519)
 * over the RFC 8785 canonical JSON of `{ chain, seq, hash, time, instance }`. Any JOSE
 * library can check an exported checkpoint against the published public JWK.
 */
import { CompactSign, compactVerify, importJWK, type JWK } from 'jose';
import canonicalize from 'canonicalize';
import type { AuditCheckpoint } from './record.ts';
import type { AuditSigningKey } from './signing-key.ts';

/** `typ` of checkpoint JWSs, so a checkpoint cannot be confused with another signed object. */
export const CHECKPOINT_TYP = 'gatehouse-audit-checkpoint+jws';

export async function signCheckpoint(key: AuditSigningKey, c: Omit<AuditCheckpoint, 'kid' | 'jws'>): Promise<AuditCheckpoint> {
  const payload = canonicalize({ chain: c.chain, seq: c.seq, hash: c.hash, time: c.time, instance: c.instance })!;
  const jws = await new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: CHECKPOINT_TYP })
    .sign(key.privateKey);
  return { ...c, kid: key.kid, jws };
}

export type CheckpointCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks a stored checkpoint: signature by a trusted key (by kid) and a signed payload
 * that says exactly what the row says.
 */
export async function verifyCheckpoint(c: AuditCheckpoint, trusted: ReadonlyMap<string, JWK>): Promise<CheckpointCheck> {
  const jwk = trusted.get(c.kid);
  if (!jwk) return { ok: false, reason: `signed by unknown key ${c.kid}` };
  try {
    const key = await importJWK(jwk, 'EdDSA');
    const { payload, protectedHeader } = await compactVerify(c.jws, key, { algorithms: ['EdDSA'] });
    if (protectedHeader.typ !== CHECKPOINT_TYP || protectedHeader.kid !== c.kid) return { ok: false, reason: 'unexpected JWS header' };
    const signed = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    if (signed.chain !== c.chain || signed.seq !== c.seq || signed.hash !== c.hash || signed.time !== c.time || signed.instance !== c.instance) {
      return { ok: false, reason: 'stored checkpoint differs from what was signed' };
    }
    return { ok: true };
  } catch {
    return { ok: false, reason: 'signature invalid' };
  }
}
