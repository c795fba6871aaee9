/** Where `audit export` sends records. Each sink takes batches and reports failures as ERR_AUDIT_EXPORT_FAILED. */
import type { AuditRecordView } from '../query.ts';

export interface AuditSink {
  /** Sends a batch; resolves to `false` when the receiver wants no more (a reader that closed the pipe). */
  write(records: readonly AuditRecordView[]): Promise<boolean | void>;
  close(): Promise<void>;
}

/** Syslog severity for an outcome: errors are `err`, denials and failures `warning`, the rest `info`. */
export function severityOf(outcome: string): { syslog: number; otlp: number; text: string } {
  if (outcome === 'error') return { syslog: 3, otlp: 17, text: 'ERROR' };
  if (outcome === 'denied' || outcome === 'failure') return { syslog: 4, otlp: 13, text: 'WARN' };
  return { syslog: 6, otlp: 9, text: 'INFO' };
}
