/**
 * The signature of a retention cut: "chain C was cut after the checkpoint at seq S, whose
 * hash is H", a compact JWS (EdDSA) by the audit signing key, carried in the details of the
 * `audit.retention.applied` record the cut appends.
 *
 * Why a signature and not the record alone: anyone who can write to the database can append
 * a record at the head of a chain (hash and link recomputed; nothing after the last
 * checkpoint is signed yet, and the next checkpoint will sign over it). An unsigned record
 * claiming a cut would let them delete the start of a chain up to any signed checkpoint and
 * pass verification, even against exported checkpoints.
 */
import { CompactSign, compactVerify, importJWK, type JWK } from 'jose';
import canonicalize from 'canonicalize';
import type { AuditSigningKey } from './signing-key.ts';

/** `typ` of retention cut JWSs: never confused with a checkpoint, which is signed by the same key. */
export const RETENTION_CUT_TYP = 'gatehouse-audit-retention+jws';

/** Where a chain was cut: the checkpoint verification resumes from. */
export interface RetentionCut {
  chain: string;
  cutAt: number;
  /** Hash of the record at `cutAt` (the checkpoint's hash). */
  hash: string;
}

/** The `kid` and `jws` that go into the retention record's details. */
export async function signRetentionCut(key: AuditSigningKey, cut: RetentionCut, time: number): Promise<{ kid: string; jws: string }> {
  const payload = canonicalize({ chain: cut.chain, cutAt: cut.cutAt, hash: cut.hash, time })!;
  const jws = await new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: RETENTION_CUT_TYP })
    .sign(key.privateKey);
  return { kid: key.kid, jws };
}

/**
 * True when a retention record's details carry a signature by a trusted key over exactly
 * this cut (chain, seq and hash). Never throws: anything malformed is simply not a proof.
 */
export async function verifyRetentionCut(details: string, trusted: ReadonlyMap<string, JWK>, cut: RetentionCut): Promise<boolean> {
  try {
    const d = JSON.parse(details) as { cutAt?: unknown; kid?: unknown; jws?: unknown };
    if (d.cutAt !== cut.cutAt || typeof d.kid !== 'string' || typeof d.jws !== 'string') return false;
    const jwk = trusted.get(d.kid);
    if (!jwk) return false;
    const { payload, protectedHeader } = await compactVerify(d.jws, await importJWK(jwk, 'EdDSA'), { algorithms: ['EdDSA'] });
    if (protectedHeader.typ !== RETENTION_CUT_TYP || protectedHeader.kid !== d.kid) return false;
    const signed = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    return signed.chain === cut.chain && signed.cutAt === cut.cutAt && signed.hash === cut.hash;
  } catch {
    return false;
  }
}
