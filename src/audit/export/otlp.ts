/**
 * OTLP logs over HTTP with the JSON encoding (OTLP/HTTP, `application/json`): each record
 * is a LogRecord whose body is the record's JSON, with its chain position, event and
 * outcome as attributes.
 *
 * Retries as the OTLP/HTTP specification asks: a batch answered 429, 502, 503 or 504, or lost to
 * a connection error, is sent again with exponential backoff (a `Retry-After` the collector sends
 * is honoured, up to a bound); any other answer fails at once. Without this one collector
 * restart, or one throttling answer, failed the whole `audit export`. A retried batch may reach
 * the collector twice (it may have taken the first copy): records carry chain, seq and hash.
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
  /** Attempts per batch, the first one included (default 5). */
  attempts?: number;
  /** First backoff (default 250 ms), doubled after each retry up to {@link MAX_BACKOFF_MS}. */
  backoffMs?: number;
}

/** The answers OTLP/HTTP says to retry (throttled, or the collector or a proxy unavailable). */
const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_BACKOFF_MS = 5_000;
/** Longest `Retry-After` honoured: a collector must not hold an export for hours. */
const MAX_RETRY_AFTER_MS = 30_000;

/** `Retry-After` as milliseconds (delay-seconds or an HTTP date), or undefined. */
function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  if (/^\d{1,9}$/.test(v.trim())) return Math.min(Number(v.trim()) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS) : undefined;
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
          // A time that is not a date (a crafted row) is sent as 0, OTLP's "unknown", instead of failing the batch.
          const ms = Date.parse(r.time);
          const nanos = Number.isSafeInteger(ms) ? `${BigInt(ms) * 1_000_000n}` : '0';
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
  const attempts = Math.max(1, options.attempts ?? 5);
  return {
    async write(records) {
      if (!records.length) return;
      const body = JSON.stringify(otlpBody(records, records[0]!.instance));
      let status = 0;
      let answer = '';
      let backoff = options.backoffMs ?? 250;
      for (let attempt = 1; ; attempt++) {
        let wait: number | undefined;
        try {
          const res = await request(options.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...options.headers },
            body,
            headersTimeout: options.timeoutMs ?? 10_000,
            bodyTimeout: options.timeoutMs ?? 10_000,
          });
          status = res.statusCode;
          if (status >= 200 && status < 300) answer = await readAnswer(res.body);
          else { wait = retryAfterMs(res.headers['retry-after']); await res.body.dump(); }
        } catch (cause) {
          if (attempt >= attempts) throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint ${new URL(options.url).origin} unreachable (${attempts} attempts)`, cause });
          status = 0;
        }
        if ((status >= 200 && status < 300) || (status !== 0 && !RETRYABLE.has(status))) break;
        if (attempt >= attempts) break;
        await new Promise((r) => setTimeout(r, wait ?? backoff));
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      if (status < 200 || status >= 300) throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint answered ${status}${RETRYABLE.has(status) ? ` (${attempts} attempts)` : ''}` });
      const rejected = rejectedRecords(answer);
      if (rejected !== undefined) {
        throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `OTLP endpoint rejected ${rejected.count} of ${records.length} log records${rejected.message ? `: ${rejected.message}` : ''}` });
      }
    },
    async close() {},
  };
}
