/** `gatehouse audit export --to jsonl|syslog|otlp`: records to stdout or the configured endpoint. */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { AuditConfig } from '../../core/config/audit-schema.ts';
import { GatehouseError } from '../../core/errors.ts';
import type { Store } from '../../store/types.ts';
import { exportAudit } from '../export/export.ts';
import { createRedactor } from '../redact.ts';
import { jsonLinesSink } from '../export/json-lines.ts';
import { createOtlpSink } from '../export/otlp.ts';
import { createSyslogSink } from '../export/syslog.ts';
import { resolveAuditQuery, type AuditQueryOptions } from './query.ts';

export type ExportTarget = 'jsonl' | 'syslog' | 'otlp';

/**
 * Records go out redacted again by the current rules (built-in and `config.redact`): see export/re-redact.ts.
 * `truncated`: records sent cut to fit a syslog datagram (UDP), also logged on `logger`.
 */
export async function auditExportCommand(store: Store, config: AuditConfig, options: AuditQueryOptions & { to: ExportTarget }, out: Writable, logger?: Logger): Promise<{ exported: number; to: ExportTarget; truncated: number }> {
  const query = await resolveAuditQuery(store, options);
  let sink;
  let truncated = () => 0;
  if (options.to === 'jsonl') sink = jsonLinesSink(out);
  else if (options.to === 'syslog') {
    const s = config.export.syslog;
    if (!s) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'audit.export.syslog is not configured' });
    const syslog = await createSyslogSink({ ...s, ...(logger ? { logger } : {}) });
    truncated = syslog.truncated;
    sink = syslog;
  } else if (options.to === 'otlp') {
    const o = config.export.otlp;
    if (!o) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'audit.export.otlp is not configured' });
    sink = createOtlpSink(o);
  } else {
    throw new GatehouseError('ERR_AUDIT_QUERY_INVALID', { detail: `unknown export target ${String(options.to)}` });
  }
  return { exported: await exportAudit(store, query, sink, createRedactor(config.redact)), to: options.to, truncated: truncated() };
}
