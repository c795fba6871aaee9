/**
 * A chain of `n` access records written through the real AuditWriter, with a signed
 * checkpoint every 100 records (and one at close), for tamper and verification suites.
 */
import { join } from 'node:path';
import { AuditWriter } from '../../../src/audit/writer.ts';
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
