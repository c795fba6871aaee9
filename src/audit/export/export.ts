/** Streams matching records into a sink in batches, until the sink wants no more; returns how many were sent. */
import type { Store } from '../../store/types.ts';
import { queryAudit, viewRecord, type AuditQuery, type AuditRecordView } from '../query.ts';
import type { AuditSink } from './sink.ts';

export async function exportAudit(store: Store, query: AuditQuery, sink: AuditSink, batchSize = 500): Promise<number> {
  let batch: AuditRecordView[] = [];
  let sent = 0;
  try {
    for await (const r of queryAudit(store, query)) {
      batch.push(viewRecord(r));
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
