/** `gatehouse audit prune [--older-than DAYS]`: retention now (normally run hourly by each instance). */
import type { AuditConfig } from '../../core/config/audit-schema.ts';
import type { Config } from '../../core/config/schema.ts';
import { GatehouseError } from '../../core/errors.ts';
import type { Store } from '../../store/types.ts';
import { auditPaths } from '../extension.ts';
import { applyRetention, type RetentionResult } from '../retention.ts';
import { loadOrCreateSigningKey, loadTrustedKeys } from '../signing-key.ts';

/**
 * The cut is signed with the audit signing key (verify accepts no other), so the key file must
 * be found: give the whole configuration (`dataDir` locates the default key file), or an `audit`
 * section that names `signingKeyFile`.
 */
export async function auditPruneCommand(store: Store, config: Pick<Config, 'dataDir' | 'audit'> | AuditConfig, options: { olderThanDays?: number } = {}): Promise<RetentionResult> {
  const audit = 'dataDir' in config ? config.audit : config;
  const days = options.olderThanDays ?? audit.retention.maxAgeDays;
  if (!(days > 0)) throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: 'no retention configured (audit.retention.maxAgeDays) and no --older-than given' });
  const keyFile = 'dataDir' in config ? auditPaths(config).signingKeyFile : audit.signingKeyFile;
  if (keyFile === undefined) throw new GatehouseError('ERR_AUDIT_KEY_MISSING', { detail: 'retention signs its cut with the audit signing key: set audit.signingKeyFile' });
  // Production mode: a missing key is an error, never a new key (a cut signed by a key nobody trusts fails verification).
  const signingKey = await loadOrCreateSigningKey(keyFile, { mode: 'production' });
  // Cuts only at checkpoints signed by a key verify trusts: the old keys too, after a rotation.
  const trustedKeys = [signingKey.publicJwk, ...await loadTrustedKeys(audit.trustedKeyFiles)];
  return applyRetention(store, { chain: audit.chain, maxAgeMs: days * 86_400_000, signingKey, trustedKeys });
}
