/**
 * `gatehouse audit checkpoint export`: every checkpoint with the public keys that verify
 * them, as one JSON document to keep outside Gatehouse (a WORM bucket, a ticket, a
 * transparency log). Each `jws` is checkable with any JOSE library and the JWK.
 */
import type { JWK } from 'jose';
import type { Config } from '../../core/config/schema.ts';
import type { Store } from '../../store/types.ts';
import { createAuditRepo } from '../../store/repos/audit-repo.ts';
import type { AuditCheckpoint } from '../record.ts';
import { trustedKeysFor } from './trusted-keys.ts';

export interface CheckpointExport {
  format: 'gatehouse-audit-checkpoints/1';
  exportedAt: string;
  keys: JWK[];
  checkpoints: AuditCheckpoint[];
}

export async function auditCheckpointExportCommand(store: Store, config: Pick<Config, 'dataDir' | 'audit'>, options: { chain?: string; since?: number } = {}): Promise<CheckpointExport> {
  const repo = createAuditRepo(store.db, store.dialect);
  const chains = options.chain ? [options.chain] : await repo.chains();
  const checkpoints: AuditCheckpoint[] = [];
  for (const chain of chains) for (const c of await repo.checkpoints(chain)) if (options.since === undefined || c.time >= options.since) checkpoints.push(c);
  return { format: 'gatehouse-audit-checkpoints/1', exportedAt: new Date().toISOString(), keys: await trustedKeysFor(config), checkpoints };
}
