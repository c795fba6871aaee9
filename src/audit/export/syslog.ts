/**
 * RFC 5424 syslog over UDP (one datagram per record, RFC 5426) or TCP (octet-counting
 * framing, RFC 6587 §3.4.1). The record travels as JSON in MSG (UTF-8, with the BOM the
 * RFC asks for); chain position and outcome go in structured data, so a collector can
 * index them without parsing the body.
 *
 * Over TCP, a receiver that makes no progress for `timeoutMs` (connect, a write waiting for
 * the socket to drain, or the receiver's close after ours) fails the export: a collector
 * that accepts and then stops reading must not hold `audit export` forever. The receiver's
 * close after our end of stream is what says it read everything we sent.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { GatehouseError } from '../../core/errors.ts';
import type { AuditRecordView } from '../query.ts';
import { severityOf, type AuditSink } from './sink.ts';

/** Private enterprise number for documentation examples (RFC 5612). */
const SD_ID = 'gatehouse@32473';

export interface SyslogOptions {
  url: string;
  appName?: string;
  facility?: number;
  /** TCP: longest time without progress (connecting, sending, the receiver closing after us). */
  timeoutMs?: number;
}

const printable = (s: string, max: number): string => (s.replace(/[^!-~]/g, '_').slice(0, max) || '-');
/**
 * A PARAM-VALUE: `"`, `\` and `]` escaped as RFC 5424 §6.3.3 requires. It has no escape for
 * control characters or line separators, which a receiver writing lines to a file would pass
 * on as line breaks (a forged entry): those become U+FFFD.
 */
const sdValue = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\uFFFD').replace(/[\\"\]]/g, (c) => `\\${c}`);
/**
 * The MSG: the record's JSON, where JSON.stringify leaves DEL, the C1 controls (NEL, U+0085,
 * is a line break to some readers) and U+2028/U+2029 raw; they are written as JSON escapes,
 * so the message parses back to the same record and holds no line break of any kind.
 */
const messageJson = (r: AuditRecordView): string => JSON.stringify(r).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Formats one record as an RFC 5424 message (without transport framing). */
export function formatSyslog(r: AuditRecordView, options: { appName: string; facility: number; host?: string }): string {
  const pri = options.facility * 8 + severityOf(r.outcome).syslog;
  const sd = `[${SD_ID} chain="${sdValue(r.chain)}" seq="${r.seq}" outcome="${sdValue(r.outcome)}" hash="${r.hash}"${r.requestId ? ` requestId="${sdValue(r.requestId)}"` : ''}]`;
  const host = printable(options.host ?? r.instance ?? hostname(), 255);
  return `<${pri}>1 ${r.time} ${host} ${printable(options.appName, 48)} - ${printable(r.event, 32)} ${sd} \uFEFF${messageJson(r)}`;
}

export async function createSyslogSink(options: SyslogOptions): Promise<AuditSink> {
  const u = /^(udp|tcp):\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(options.url);
  if (!u) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'syslog url must be udp://host:port or tcp://host:port' });
  const [, proto, rawHost, port] = u;
  const host = rawHost!.replace(/^\[|\]$/g, '');
  const fmt = { appName: options.appName ?? 'gatehouse', facility: options.facility ?? 13 };
  const fail = (cause: unknown) => new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `syslog ${proto}://${host}:${port}: ${reason(cause)}`, cause });

  if (proto === 'udp') {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    return {
      async write(records) {
        for (const r of records) {
          const msg = Buffer.from(formatSyslog(r, fmt));
          await new Promise<void>((resolve, reject) => socket.send(msg, Number(port), host, (err) => (err ? reject(fail(err)) : resolve())));
        }
      },
      async close() { socket.close(); },
    };
  }

  const timeoutMs = options.timeoutMs ?? 10_000;
  const socket = connect(Number(port), host);
  let error: unknown;
  socket.on('error', (err) => { error ??= err; });
  // Node's idle timer restarts whenever bytes move; it fires when the receiver stops reading
  // (the send buffer stays full) or never answers our end of stream with its own.
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`receiver made no progress for ${timeoutMs} ms`)));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  try {
    await once(socket, 'connect');
  } catch (err) {
    throw fail(err);
  }
  return {
    async write(records) {
      if (error !== undefined || socket.destroyed) throw fail(error ?? 'connection closed by the receiver');
      const frames = records.map((r) => {
        const msg = Buffer.from(formatSyslog(r, fmt));
        return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
      });
      if (!socket.write(Buffer.concat(frames))) {
        // 'close' too: a socket destroyed while we wait never drains.
        await Promise.race([once(socket, 'drain').catch(() => undefined), closed]);
      }
      if (error !== undefined || socket.destroyed) throw fail(error ?? 'connection closed by the receiver');
    },
    async close() {
      socket.end();
      // Resolves when the receiver closes its side (it has read up to our end of stream), or
      // when the idle timer gives up on it.
      await closed;
      if (error !== undefined) throw fail(error);
    },
  };
}

function reason(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
