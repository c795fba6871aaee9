/**
 * OTLP logs over HTTP with the JSON encoding (OTLP/HTTP, `application/json`): each record
 * is a LogRecord whose body is the record's JSON, with its chain position, event and
 * outcome as attributes.
 */
import { request } from 'undici';
import { GatehouseError } from '../../core/errors.ts';
import { VERSION } from '../../core/version.ts';
import type { AuditRecordView } from '../query.ts';
import { severityOf, type AuditSink } from './sink.ts';

export interface OtlpOptions {
  url: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

const attr = (key: string, value: string | number | null) =>
  value === null ? undefined : { key, value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value } };

/** The ExportLogsServiceRequest body for a batch. */
export function otlpBody(records: readonly AuditRecordView[], serviceInstance?: string): unknown {
  return {
    resourceLogs: [{
      resource: { attributes: [attr('service.name', 'gatehouse'), attr('service.version', VERSION), ...(serviceInstance ? [attr('service.instance.id', serviceInstance)] : [])] },
      scopeLogs: [{
        scope: { name: 'gatehouse.audit', version: VERSION },
        logRecords: records.map((r) => {
          const sev = severityOf(r.outcome);
          const nanos = `${BigInt(Date.parse(r.time)) * 1_000_000n}`;
          return {
            timeUnixNano: nanos,
            observedTimeUnixNano: nanos,
            severityNumber: sev.otlp,
            severityText: sev.text,
            eventName: r.event,
            body: { stringValue: JSON.stringify(r) },
            attributes: [
              attr('gatehouse.audit.chain', r.chain), attr('gatehouse.audit.seq', r.seq), attr('gatehouse.audit.hash', r.hash),
              attr('gatehouse.audit.outcome', r.outcome), attr('gatehouse.audit.action', r.action), attr('gatehouse.audit.actor', r.actor.subject),
              attr('gatehouse.request_id', r.requestId), attr('client.address', r.clientAddress),
            ].filter((a) => a !== undefined),
          };
        }),
      }],
    }],
  };
}

export function createOtlpSink(options: OtlpOptions): AuditSink {
  return {
    async write(records) {
      if (!records.length) return;
      let status: number;
      try {
        const res = await request(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...options.headers },
          body: JSON.stringify(otlpBody(records, records[0]!.instance)),
          headersTimeout: options.timeoutMs ?? 10_000,
          bodyTimeout: options.timeoutMs ?? 10_000,
        });
        status = res.statusCode;
        await res.body.dump();
      } catch (cause) {
        throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint ${new URL(options.url).origin} unreachable`, cause });
      }
      if (status < 200 || status >= 300) throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint answered ${status}` });
    },
    async close() {},
  };
}
