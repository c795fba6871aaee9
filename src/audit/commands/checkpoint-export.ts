/**
 * `gatehouse audit checkpoint export`: every checkpoint with the public keys that verify
 * them, as one JSON document to keep outside Gatehouse (a WORM bucket, a ticket, a
 * transparency log). Each `jws` is checkable with any JOSE library and the JWK. A checkpoint
 * that no trusted key signed refuses the whole export (ERR_AUDIT_TAMPERED).
 */
import type { JWK } from 'jose';
import type { Config } from '../../core/config/schema.ts';
import { GatehouseError } from '../../core/errors.ts';
import type { Store } from '../../store/types.ts';
import { createAuditRepo } from '../../store/repos/audit-repo.ts';
import { verifyCheckpoint } from '../checkpoint.ts';
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
  const keys = await trustedKeysFor(config);
  const trusted = new Map<string, JWK>();
  for (const k of keys) if (k.kid) trusted.set(k.kid, k);
  const checkpoints: AuditCheckpoint[] = [];
  for (const chain of chains) {
    for (const c of await repo.checkpoints(chain)) {
      if (options.since !== undefined && c.time < options.since) continue;
      // The anchor holds only what a trusted key signed: a row planted in the database would be
      // kept write-once, and fail every later `verify --checkpoints` held against it.
      const check = await verifyCheckpoint(c, trusted);
      if (!check.ok) {
        throw new GatehouseError('ERR_AUDIT_TAMPERED', { detail: `checkpoint of chain ${JSON.stringify(chain.slice(0, 64))} at seq ${c.seq}: ${check.reason.slice(0, 120).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?')}; nothing exported (run gatehouse audit verify)` });
      }
      checkpoints.push(c);
    }
  }
  return { format: 'gatehouse-audit-checkpoints/1', exportedAt: new Date().toISOString(), keys, checkpoints };
}
