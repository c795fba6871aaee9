/** `gatehouse audit verify`: exit code 0 when every chain verifies, 1 otherwise (also when the store holds no chain: nothing verified). */
import type { Config } from '../../core/config/schema.ts';
import { GatehouseError } from '../../core/errors.ts';
import { createAuditRepo } from '../../store/repos/audit-repo.ts';
import type { Store } from '../../store/types.ts';
import { readCheckpointExport } from '../checkpoint-file.ts';
import { verifyAudit, type VerifyReport } from '../verify.ts';
import { printable } from './printable.ts';
import { trustedKeysFor } from './trusted-keys.ts';

export async function auditVerifyCommand(store: Store, config: Pick<Config, 'dataDir' | 'audit'>, options: { chain?: string; publicKeys?: string[]; checkpointsFile?: string } = {}): Promise<{ exitCode: number; report: VerifyReport & { nothingVerified?: true }; output: string }> {
  const exported = options.checkpointsFile === undefined ? undefined : await readCheckpointExport(options.checkpointsFile);
  if (options.chain !== undefined) {
    // A chain with no record, head or checkpoint anywhere verifies as "0 records: ok": for a
    // misspelt name that reads as a clean bill. (Without --chain every stored chain is checked.)
    const known = new Set([...await createAuditRepo(store.db, store.dialect).chains(), ...(exported ?? []).map((c) => c.chain)]);
    if (!known.has(options.chain)) {
      throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: `no audit chain ${JSON.stringify(options.chain.slice(0, 64))}; chains: ${printable([...known].sort().join(', ')) || 'none'}` });
    }
  }
  const verified = await verifyAudit(store, { trustedKeys: await trustedKeysFor(config, options.publicKeys), ...(options.chain ? { chain: options.chain } : {}), ...(exported ? { exported } : {}) });
  // No chain at all: nothing was proven. "ok" would be the same answer for the wrong store
  // (a --config pointing elsewhere) and for a log deleted whole; a check run from cron must fail.
  const report: VerifyReport & { nothingVerified?: true } = verified.ok && verified.chains.length === 0 ? { ...verified, ok: false, nothingVerified: true } : verified;
  const lines = report.chains.map((c) => `chain ${c.chain}: ${c.records} records (seq ${c.firstSeq ?? '-'}..${c.lastSeq ?? '-'}), ${c.checkpoints} checkpoints, from ${c.startedFrom === 'genesis' ? 'genesis' : `checkpoint ${c.startedFrom}`}: ${c.ok ? 'ok' : 'FAILED'}`);
  for (const p of report.problems) lines.push(`TAMPERED chain ${p.chain} seq ${p.seq}: ${p.kind} — ${p.message}`);
  if (report.nothingVerified) lines.push('no audit records in this store: nothing was verified (the wrong store, a log never written, or one deleted whole; --checkpoints holds the store to an exported checkpoint file)');
  else lines.push(report.ok ? `verified ${report.records} records in ${Math.round(report.durationMs)} ms` : `verification FAILED (${report.problems.length} chain(s))`);
  return { exitCode: report.ok ? 0 : 1, report, output: lines.map(printable).join('\n') };
}
