/**
 * Streams matching records into a sink in batches, until the sink wants no more; returns how many
 * were sent. Each record is redacted again by `redactor` on its way out (re-redact.ts); without
 * one, by the built-in rules.
 */
import type { Store } from '../../store/types.ts';
import { queryAudit, viewRecord, type AuditQuery, type AuditRecordView } from '../query.ts';
import { createRedactor, type Redactor } from '../redact.ts';
import { reRedactView } from './re-redact.ts';
import type { AuditSink } from './sink.ts';

export async function exportAudit(store: Store, query: AuditQuery, sink: AuditSink, redactor: Redactor = createRedactor(), batchSize = 500): Promise<number> {
  let batch: AuditRecordView[] = [];
  let sent = 0;
  try {
    for await (const r of queryAudit(store, query)) {
      batch.push(reRedactView(viewRecord(r), redactor));
      if (batch.length >= batchSize) {
        if (await sink.write(batch) === false) return sent;
        sent += batch.length;
        batch = [];
      }
    }
    if (batch.length && await sink.write(batch) !== false) sent += batch.length;
  } finally {
    await sink.close();
  }
  return sent;
}
