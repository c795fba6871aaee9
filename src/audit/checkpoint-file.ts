/**
 * Reads a file written by `gatehouse audit checkpoint export`, for `audit verify
 * --checkpoints`. Only the checkpoints are taken: the `keys` the file carries are ignored,
 * because whoever could alter the file could put their own key next to their own
 * checkpoints. Each checkpoint is judged later with the keys verify trusts.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { GatehouseError } from '../core/errors.ts';
import type { AuditCheckpoint } from './record.ts';

const checkpointSchema = z.object({
  chain: z.string().min(1),
  seq: z.number().int().positive(),
  hash: z.string().min(1),
  time: z.number().int(),
  instance: z.string(),
  kid: z.string().min(1),
  jws: z.string().min(1),
});

const exportSchema = z.object({
  format: z.literal('gatehouse-audit-checkpoints/1'),
  checkpoints: z.array(checkpointSchema),
});

/** @throws GatehouseError ERR_AUDIT_CHECKPOINTS_INVALID when the file cannot be read or is not a checkpoint export. */
export async function readCheckpointExport(file: string): Promise<AuditCheckpoint[]> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new GatehouseError('ERR_AUDIT_CHECKPOINTS_INVALID', { detail: `cannot read ${file} as JSON`, cause });
  }
  const parsed = exportSchema.safeParse(value);
  if (!parsed.success) {
    throw new GatehouseError('ERR_AUDIT_CHECKPOINTS_INVALID', { detail: `${file} is not a gatehouse-audit-checkpoints/1 export: ${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.') ?? ''}` });
  }
  return parsed.data.checkpoints;
}
