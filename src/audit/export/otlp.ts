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

/** Longest collector answer read: an ExportLogsServiceResponse is a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

async function readAnswer(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The records a 2xx answer says were rejected (OTLP partial success: the collector accepted
 * the request but dropped `rejectedLogRecords` of them, and the client must not retry), or
 * undefined when it rejected none. An answer that is not JSON (some collectors send an empty
 * body or protobuf) says nothing about rejections.
 */
function rejectedRecords(answer: string): { count: string; message: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer);
  } catch {
    return undefined;
  }
  const partial = (parsed as { partialSuccess?: { rejectedLogRecords?: unknown; errorMessage?: unknown } } | null)?.partialSuccess;
  // int64 in OTLP/JSON: a decimal string or a number.
  const count = partial?.rejectedLogRecords;
  if ((typeof count !== 'string' && typeof count !== 'number') || !/^[1-9][0-9]{0,18}$/.test(String(count))) return undefined;
  const message = typeof partial?.errorMessage === 'string' ? partial.errorMessage : '';
  // The collector's words end up on the operator's terminal: no control characters, kept short.
  return { count: String(count), message: message.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 200) };
}

export function createOtlpSink(options: OtlpOptions): AuditSink {
  return {
    async write(records) {
      if (!records.length) return;
      let status: number;
      let answer: string;
      try {
        const res = await request(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...options.headers },
          body: JSON.stringify(otlpBody(records, records[0]!.instance)),
          headersTimeout: options.timeoutMs ?? 10_000,
          bodyTimeout: options.timeoutMs ?? 10_000,
        });
        status = res.statusCode;
        if (status >= 200 && status < 300) answer = await readAnswer(res.body);
        else { answer = ''; await res.body.dump(); }
      } catch (cause) {
        throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint ${new URL(options.url).origin} unreachable`, cause });
      }
      if (status < 200 || status >= 300) throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint answered ${status}` });
      const rejected = rejectedRecords(answer);
      if (rejected !== undefined) {
        throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint rejected ${rejected.count} of ${records.length} log records${rejected.message ? `: ${rejected.message}` : ''}` });
      }
    },
    async close() {},
  };
}
