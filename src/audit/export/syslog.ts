/**
 * RFC 5424 syslog over UDP (one datagram per record, RFC 5426), TCP (octet-counting
 * framing, RFC 6587 §3.4.1) or TLS (RFC 5425: the same framing inside TLS 1.2+, the
 * receiver's certificate checked against `ca` or Node's roots and its name against the host). The record travels as JSON in MSG (UTF-8, with the BOM the
 * RFC asks for); chain position and outcome go in structured data, so a collector can
 * index them without parsing the body.
 *
 * Over UDP a message must fit one datagram (at most 65,507 bytes over IPv4, 65,527 over IPv6):
 * a longer one failed the whole export with EMSGSIZE. It is now truncated as RFC 5424 §6.1 says, in its MSG at a character boundary,
 * and marked with `truncated="<bytes of the whole MSG>"` in the structured data, whose seq and
 * hash name the record to fetch whole. Truncations are counted (`truncated()`) and logged.
 *
 * Over TCP, a receiver that makes no progress for `timeoutMs` (connect, a write waiting for
 * the socket to drain, or the receiver's close after ours) fails the export: a collector
 * that accepts and then stops reading must not hold `audit export` forever. The receiver's
 * close after our end of stream is what says it read everything we sent.
 */
import { createSocket } from 'node:dgram';
import type { Logger } from 'pino';
import { connect, isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { readFile } from 'node:fs/promises';
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
  /** TLS: PEM file of the CA certificates that may sign the receiver's certificate (default: Node's roots). */
  ca?: string;
  /** TCP: longest time without progress (connecting, sending, the receiver closing after us). */
  timeoutMs?: number;
  /** UDP: longest datagram sent (default: the most UDP carries over the address family). */
  maxDatagramBytes?: number;
  /** Where truncations are reported. */
  logger?: Logger;
}

/** A syslog sink that also says how many messages it had to truncate. */
export interface SyslogSink extends AuditSink {
  truncated(): number;
}

/** The longest UDP payload over IPv4 (65,535 − 20 − 8) and IPv6 (65,535 − 8, without jumbograms). */
const UDP_MAX = { udp4: 65_507, udp6: 65_527 } as const;

/** Longest value written in a structured-data parameter: the MSG carries the whole value. */
const MAX_SD_VALUE = 255;

const printable = (s: string, max: number): string => (s.replace(/[^!-~]/g, '_').slice(0, max) || '-');
/**
 * A PARAM-VALUE: `"`, `\` and `]` escaped as RFC 5424 §6.3.3 requires. It has no escape for
 * control characters or line separators, which a receiver writing lines to a file would pass
 * on as line breaks (a forged entry): those become U+FFFD.
 */
const sdValue = (s: string): string => s.slice(0, MAX_SD_VALUE).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\uFFFD').replace(/[\\"\]]/g, (c) => `\\${c}`);
/**
 * The MSG: the record's JSON, where JSON.stringify leaves DEL, the C1 controls (NEL, U+0085,
 * is a line break to some readers) and U+2028/U+2029 raw; they are written as JSON escapes,
 * so the message parses back to the same record and holds no line break of any kind.
 */
const messageJson = (r: AuditRecordView): string => JSON.stringify(r).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

interface FormatOptions { appName: string; facility: number; host?: string }

/** Formats one record as an RFC 5424 message (without transport framing). */
export function formatSyslog(r: AuditRecordView, options: FormatOptions): string {
  return `${syslogHead(r, options, '')}${messageJson(r)}`;
}

/** Everything before the MSG (HEADER, SD, the BOM); `extra` is added to the structured data. */
function syslogHead(r: AuditRecordView, options: FormatOptions, extra: string): string {
  const pri = options.facility * 8 + severityOf(r.outcome).syslog;
  const sd = `[${SD_ID} chain="${sdValue(r.chain)}" seq="${sdValue(String(r.seq))}" outcome="${sdValue(r.outcome)}" hash="${sdValue(r.hash)}"${r.requestId ? ` requestId="${sdValue(r.requestId)}"` : ''}${extra}]`;
  const host = printable(options.host ?? r.instance ?? hostname(), 255);
  return `<${pri}>1 ${sdTime(r.time)} ${host} ${printable(options.appName, 48)} - ${printable(r.event, 32)} ${sd} \uFEFF`;
}

/** The TIMESTAMP as a record view gives it (ISO 8601 UTC); anything else is the NILVALUE. */
const sdTime = (t: string): string => (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/.test(t) ? t : '-');

/**
 * The record as one datagram of at most `limit` bytes: whole when it fits, else with its MSG
 * cut at a UTF-8 character boundary and `truncated="<bytes of the whole MSG>"` in the
 * structured data. Undefined when not even the header and structured data fit.
 */
export function syslogDatagram(r: AuditRecordView, options: FormatOptions, limit: number): { message: Buffer; truncatedFrom: number | undefined } | undefined {
  const body = Buffer.from(messageJson(r));
  const whole = Buffer.from(syslogHead(r, options, ''));
  if (whole.length + body.length <= limit) return { message: Buffer.concat([whole, body]), truncatedFrom: undefined };
  const head = Buffer.from(syslogHead(r, options, ` truncated="${body.length}"`));
  let keep = limit - head.length;
  if (keep < 0) return undefined;
  // Not inside a character: back up over UTF-8 continuation bytes.
  while (keep > 0 && (body[keep]! & 0xc0) === 0x80) keep--;
  return { message: Buffer.concat([head, body.subarray(0, keep)]), truncatedFrom: body.length };
}

export async function createSyslogSink(options: SyslogOptions): Promise<SyslogSink> {
  const u = /^(udp|tcp|tls):\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(options.url);
  if (!u) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'syslog url must be udp://host:port, tcp://host:port or tls://host:port' });
  const [, proto, rawHost, port] = u;
  const host = rawHost!.replace(/^\[|\]$/g, '');
  const fmt = { appName: options.appName ?? 'gatehouse', facility: options.facility ?? 13 };
  const fail = (cause: unknown) => new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `syslog ${proto}://${host}:${port}: ${reason(cause)}`, cause });

  if (proto === 'udp') {
    const family = host.includes(':') ? 'udp6' : 'udp4';
    const socket = createSocket(family);
    const limit = Math.min(options.maxDatagramBytes ?? UDP_MAX[family], UDP_MAX[family]);
    let truncated = 0;
    return {
      async write(records) {
        for (const r of records) {
          const datagram = syslogDatagram(r, fmt, limit);
          // Only with a tiny maxDatagramBytes: the header and structured data are bounded.
          if (datagram === undefined) throw fail(`record ${r.chain}/${r.seq}: its header alone is longer than a datagram of ${limit} bytes`);
          // An OS whose limit is below the protocol's (9,216 bytes on macOS) still fails here, loudly.
          await new Promise<void>((resolve, reject) => socket.send(datagram.message, Number(port), host, (err) => (err ? reject(fail(err)) : resolve())));
          if (datagram.truncatedFrom !== undefined) {
            truncated += 1;
            if (truncated === 1) options.logger?.warn({ chain: r.chain, seq: r.seq, hash: r.hash, bytes: datagram.truncatedFrom, limit }, 'audit export: a record longer than a syslog datagram was sent truncated (marked truncated= in its structured data); fetch it whole with gatehouse audit query');
          }
        }
      },
      async close() {
        socket.close();
        if (truncated > 0) options.logger?.warn({ truncated, limit }, 'audit export: records sent truncated to fit a syslog datagram');
      },
      truncated: () => truncated,
    };
  }

  const timeoutMs = options.timeoutMs ?? 10_000;
  let ca: string | undefined;
  if (options.ca !== undefined) {
    try {
      ca = await readFile(options.ca, 'utf8');
    } catch (err) {
      throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `audit.export.syslog.ca: cannot read ${options.ca}: ${reason(err)}`, cause: err });
    }
  }
  // RFC 5425: TLS with the receiver authenticated by its certificate, never without.
  const socket = proto === 'tls'
    ? connectTls({ host, port: Number(port), minVersion: 'TLSv1.2', rejectUnauthorized: true, ...(ca !== undefined ? { ca } : {}), ...(isIP(host) ? {} : { servername: host }) })
    : connect(Number(port), host);
  let error: unknown;
  socket.on('error', (err) => { error ??= err; });
  // Node's idle timer restarts whenever bytes move; it fires when the receiver stops reading
  // (the send buffer stays full) or never answers our end of stream with its own.
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`receiver made no progress for ${timeoutMs} ms`)));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  try {
    // TLS: after the handshake, with the receiver's certificate verified.
    await once(socket, proto === 'tls' ? 'secureConnect' : 'connect');
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
    // Octet counting frames a message of any length.
    truncated: () => 0,
  };
}

function reason(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
