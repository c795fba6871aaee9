/**
 * A chain of `n` access records written through the real AuditWriter, with a signed
 * checkpoint every 100 records (and one at close), for tamper and verification suites.
 */
import { join } from 'node:path';
import { AuditWriter } from '../../../src/audit/writer.ts';
import { recordHash } from '../../../src/audit/hash.ts';
import { createAuditRepo } from '../../../src/store/repos/audit-repo.ts';
import type { AuditSigningKey } from '../../../src/audit/signing-key.ts';
import type { Store } from '../../../src/store/index.ts';
import { accessDraft } from './events.ts';

export async function writeChain(store: Store, options: { chain: string; records: number; key: AuditSigningKey; spoolRoot: string }): Promise<void> {
  const { chain, key } = options;
  const writer = AuditWriter.open({ store, chain, instance: 'test-1', spoolDir: join(options.spoolRoot, `spool-${chain}`), signingKey: key, checkpointEveryRecords: 100, batchMaxEvents: 100 });
  for (let i = 1; i <= options.records; i++) {
    writer.append(accessDraft(i));
    if (i % 100 === 0) await writer.flush();
  }
  await writer.close();
}

/**
 * The attack of someone who can write to the database but cannot sign: records from `fromSeq`
 * on are rewritten (the first one's details changed) with every hash and link recomputed, and
 * the chain head moved to the new last hash, in one transaction. `alsoInTransaction` adds
 * more of the same attacker's edits (e.g. deleting checkpoint rows).
 */
export async function rewriteChainFrom(store: Store, chain: string, fromSeq: number, alsoInTransaction?: (trx: Store['db']) => Promise<void>): Promise<void> {
  const records = [...await createAuditRepo(store.db, store.dialect).page(chain, fromSeq - 2, 100_000)];
  let prev = records[0]!.hash;
  await store.transaction(async (trx) => {
    for (const r of records.slice(1)) {
      const fields = { ...r, prevHash: prev, details: r.seq === fromSeq ? '{"rewritten":true}' : r.details };
      const hash = recordHash(fields);
      await trx.updateTable('audit_records').set({ prev_hash: prev, hash, details: fields.details }).where('chain', '=', chain).where('seq', '=', r.seq).execute();
      prev = hash;
    }
    await alsoInTransaction?.(trx);
    await trx.updateTable('audit_chain_heads').set({ hash: prev }).where('chain', '=', chain).execute();
  });
}
