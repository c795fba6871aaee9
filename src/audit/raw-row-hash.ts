/**
 * The chain hash of a record read as column bytes (an {@link AuditBytePage} row, PostgreSQL
 * binary COPY), without making a JS string of any value: the canonical hash input is written
 * byte by byte into one buffer and hashed.
 *
 * Why this is `hashInput`'s text exactly: hash.ts writes the keys in JCS order and each value
 * with JSON.stringify, which for a well-formed string escapes `"` and `\` with a backslash,
 * \b \t \n \f \r as such, every other code unit below U+0020 as \u00xx (lowercase hex), and
 * leaves everything else as it is (U+007F, U+2028, U+2029, emoji included). In UTF-8 every
 * byte of a multi-byte character is ≥ 0x80, so escaping the ASCII bytes of a value's UTF-8
 * and copying all others gives the UTF-8 of JSON.stringify of that value. `time` is a safe
 * integer written in decimal, as JSON.stringify writes it.
 *
 * Why a tampered record cannot pass: the text written is valid JSON whose values are exactly
 * the column bytes (the escaping is reversible), so if it hashes to the stored hash it is the
 * canonical text of the record that hash was made of. A value that is not valid UTF-8, a
 * `time` that is not an 8-byte safe integer, anything this writer gets wrong, makes the hash
 * differ (or returns undefined), and the verifier then reads the record the other way
 * (row-hash.ts) and reports it as before. At load the two writers are compared on a probe
 * record; should hash.ts ever write something else, this path is not used.
 */
import { hash } from 'node:crypto';
import type { BinaryRows } from '../store/postgres/binary-copy.ts';
import { SCAN_TIME, type AuditScanRow } from '../store/repos/audit-scan.ts';
import { hashInput } from './hash.ts';
import { scanRowToRecord } from './row-hash.ts';

/** The hashed fields, in AuditScanRow order, which is the JCS key order. */
const KEYS = ['action', 'actor', 'actorKind', 'chain', 'clientAddress', 'decisionId', 'details', 'event', 'eventId', 'instance', 'outcome', 'prevHash', 'reasons', 'requestId', 'resource', 'time', 'traceId'];
const HASHED = KEYS.length;
const TEMPLATE = new TextEncoder().encode(`${KEYS.map((k, i) => `${i === 0 ? '{' : ','}"${k}":`).join('')},"v":1}`);
/** Start and length in TEMPLATE of what precedes field k (k < HASHED) and of the end (k = HASHED). */
const PIECES = new Int32Array((HASHED + 1) * 2);
{
  let at = 0;
  for (let k = 0; k < HASHED; k++) {
    const length = KEYS[k]!.length + 4; // {"key": or ,"key":
    PIECES[2 * k] = at;
    PIECES[2 * k + 1] = length;
    at += length;
  }
  PIECES[2 * HASHED] = at;
  PIECES[2 * HASHED + 1] = TEMPLATE.length - at;
}
/** Per byte: 0 copied as is; 1 escaped as \u00xx; else escaped as a backslash and this byte. */
const ESCAPE = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) ESCAPE[b] = 1;
for (const [b, e] of [[0x08, 0x62], [0x09, 0x74], [0x0a, 0x6e], [0x0c, 0x66], [0x0d, 0x72], [0x22, 0x22], [0x5c, 0x5c]] as const) ESCAPE[b] = e;
const HEX = new TextEncoder().encode('0123456789abcdef');

let out = new Uint8Array(64 * 1024);

/**
 * Hex SHA-256 of the canonical hash input of row `row`, or undefined when the row is not in
 * the shape this writer handles (`time` not an 8-byte safe integer, or fields missing).
 */
export function byteRowHash(page: BinaryRows, row: number): string | undefined {
  const data = page.data;
  const spans = page.spans;
  const base = row * page.fields * 2;
  if (page.fields < HASHED) return undefined;
  // Worst case: every byte a \u00xx escape.
  let room = TEMPLATE.length + 8;
  for (let f = 0; f < HASHED; f++) room += Math.max(spans[base + 2 * f + 1]!, 4) * 6 + 2;
  if (room > out.length) out = new Uint8Array(room * 2);
  const dst = out;
  let o = 0;
  for (let f = 0; f < HASHED; f++) {
    const key = PIECES[2 * f]!;
    const keyEnd = key + PIECES[2 * f + 1]!;
    for (let k = key; k < keyEnd; k++) dst[o++] = TEMPLATE[k]!;
    const start = spans[base + 2 * f]!;
    const length = spans[base + 2 * f + 1]!;
    if (length < 0) {
      dst[o++] = 0x6e; dst[o++] = 0x75; dst[o++] = 0x6c; dst[o++] = 0x6c; // null
      continue;
    }
    if (f === SCAN_TIME) {
      if (length !== 8) return undefined;
      const time = data.readInt32BE(start) * 4294967296 + data.readUInt32BE(start + 4);
      if (!Number.isSafeInteger(time)) return undefined;
      const digits = String(time);
      for (let k = 0; k < digits.length; k++) dst[o++] = digits.charCodeAt(k);
      continue;
    }
    dst[o++] = 0x22;
    const end = start + length;
    for (let p = start; p < end; p++) {
      const b = data[p]!;
      const e = ESCAPE[b]!;
      if (e === 0) {
        dst[o++] = b;
        continue;
      }
      dst[o++] = 0x5c;
      if (e !== 1) {
        dst[o++] = e;
      } else {
        dst[o++] = 0x75; dst[o++] = 0x30; dst[o++] = 0x30; dst[o++] = HEX[b >> 4]!; dst[o++] = HEX[b & 15]!;
      }
    }
    dst[o++] = 0x22;
  }
  const end = PIECES[2 * HASHED]!;
  for (let k = end; k < TEMPLATE.length; k++) dst[o++] = TEMPLATE[k]!;
  return hash('sha256', dst.subarray(0, o), 'hex');
}

/**
 * Rows as a byte page, laid out as the binary COPY reader lays them out (text as UTF-8,
 * `time` and `seq` as int8): for the probe below and for tests.
 */
export function bytePageOf(rows: readonly AuditScanRow[]): BinaryRows {
  const fields = 19;
  const parts: Buffer[] = [];
  const spans = new Int32Array(rows.length * fields * 2);
  let at = 0;
  rows.forEach((r, i) => {
    for (let f = 0; f < fields; f++) {
      const v: unknown = r[f];
      let bytes: Buffer | undefined;
      if (typeof v === 'number') {
        bytes = Buffer.alloc(8);
        bytes.writeBigInt64BE(BigInt(v));
      } else if (typeof v === 'string') {
        bytes = Buffer.from(v, 'utf8');
      }
      spans[(i * fields + f) * 2] = at;
      spans[(i * fields + f) * 2 + 1] = bytes ? bytes.length : -1;
      if (bytes) {
        parts.push(bytes);
        at += bytes.length;
      }
    }
  });
  return { data: Buffer.concat(parts), spans, fields, length: rows.length };
}

const PROBE: AuditScanRow = [
  'gateway.request', 'ålice "q" \\ \u007f', null, 'main', '192.0.2.1', null, '{"a":[1,{"b":null}],"c":"\\n\u2028😀"}\b\t\n\f\r\u0000\u001f', 'gateway.request',
  '0199c3a0-0000-7000-8000-000000000001', 'gw-1', 'success', '0'.repeat(64), '["r"]', 'r1', 'route:inbox GET /', 1_790_000_000_123,
  '\u0001\u2029', 1, '',
];
/** False when hash.ts no longer writes what {@link byteRowHash} writes (tests require true). */
export const BYTE_ROW_HASH = byteRowHash(bytePageOf([PROBE]), 0) === hash('sha256', hashInput(scanRowToRecord(PROBE)), 'hex');
