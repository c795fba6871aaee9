/**
 * Request-target normalization: the one canonical path that is both routed and forwarded.
 *
 * Every rule is written down, with its reason, in docs/path-normalization.md. In short:
 * origin-form only; query split at the first `?` and kept raw; percent-decoding exactly
 * once; encoded `/` and `\`, `;`, control characters, invalid escapes and invalid or
 * overlong UTF-8 refused; duplicate slashes collapsed; dot segments resolved (RFC 3986
 * §5.2.4), climbing above the root refused; the result re-encoded so that only characters
 * outside RFC 3986 `pchar` are percent-encoded (upper-case hex).
 *
 * Hot path: a target made only of plain `pchar` characters and single slashes, with no
 * segment starting with a dot, is validated in one `charCodeAt` loop and returned without
 * copying (V8 slices share the original string).
 */
import { isUtf8 } from 'node:buffer';
import { GatehouseError } from '../../core/errors.ts';

/** Longest raw path (before `?`), in characters. */
export const MAX_PATH_LENGTH = 4096;
/** Longest raw request target (path + `?` + query), in characters. */
export const MAX_TARGET_LENGTH = 16384;

/** A request target split into its normalized path and its raw query (without `?`). */
export interface NormalizedTarget {
  path: string;
  query: string;
}

/** Why a target is refused: the closed set of `data.reason` values (docs/path-normalization.md). */
export const PATH_REFUSALS = [
  'empty', 'asterisk-form', 'absolute-form', 'too-long', 'fragment', 'raw-character',
  'backslash', 'semicolon', 'invalid-escape', 'encoded-separator', 'control-character',
  'invalid-utf8', 'above-root', 'query-character',
] as const;

/** Why a target was refused; goes to logs and audit (`data.reason`), never to the client. */
export type PathRefusal = typeof PATH_REFUSALS[number];

const PATH_REFUSAL_NAMES: ReadonlySet<string> = new Set(PATH_REFUSALS);

const OK = 0;
const REFUSE = 1;
const SLOW = 2;
const SLASH = 3;
const DOT = 4;

/** How each raw ASCII character of the path is treated by the first pass. */
const RAW_CLASS = new Uint8Array(128).fill(REFUSE);
/** Bytes that stay literal in the output: RFC 3986 pchar minus `%` (escapes are re-made) and `;` (refused). */
const PCHAR = new Uint8Array(256);
/** Output form of every decoded byte: itself when it is pchar, else `%XX`. */
const ENCODED: string[] = [];

{
  const pchar = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&\'()*+,=:@';
  for (let i = 0; i < pchar.length; i++) PCHAR[pchar.charCodeAt(i)] = 1;
  for (let c = 0x21; c <= 0x7e; c++) RAW_CLASS[c] = PCHAR[c] ? OK : SLOW; // non-pchar printable: needs re-encoding
  RAW_CLASS[0x25] = SLOW; // '%'
  RAW_CLASS[0x2f] = SLASH;
  RAW_CLASS[0x2e] = DOT;
  RAW_CLASS[0x23] = REFUSE; // '#'
  RAW_CLASS[0x5c] = REFUSE; // '\'
  RAW_CLASS[0x3b] = REFUSE; // ';'
  for (let b = 0; b < 256; b++) ENCODED.push(PCHAR[b] ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0'));
}

/** Hex digit value, or 255 for a non-hex character. */
const HEX_VALUE = new Uint8Array(128).fill(255);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) { HEX_VALUE[0x41 + i] = 10 + i; HEX_VALUE[0x61 + i] = 10 + i; }

/** Decoded bytes of one segment; a segment is never longer than the path limit. */
const scratch = new Uint8Array(MAX_PATH_LENGTH);

const REASON_TEXT: Record<PathRefusal, string> = {
  'empty': 'empty request target',
  'asterisk-form': 'asterisk-form request target (*) is not routed',
  'absolute-form': 'request target is not in origin-form (absolute-form or authority-form)',
  'too-long': 'request target exceeds the length limit',
  'fragment': 'request target contains a fragment (#)',
  'raw-character': 'request target contains a character outside printable ASCII',
  'backslash': 'path contains a backslash',
  'semicolon': 'path contains a semicolon (path parameters are refused)',
  'invalid-escape': 'path contains an invalid percent-escape',
  'encoded-separator': 'path contains an encoded / or \\',
  'control-character': 'path decodes to a control character',
  'invalid-utf8': 'path decodes to invalid or overlong UTF-8',
  'above-root': 'path climbs above the root with ..',
  'query-character': 'query contains a character outside printable ASCII',
};

function refuse(reason: PathRefusal, at: number): GatehouseError {
  // The target itself is not logged: queries carry tokens, paths sometimes do too.
  return new GatehouseError('ERR_REQUEST_PATH_INVALID', { detail: `${REASON_TEXT[reason]} (at offset ${at})`, data: { reason, offset: at } });
}

/**
 * The reason and offset of a refused target, for the `gateway.request` event and its audit
 * record; undefined for any other error. Checked against {@link PATH_REFUSALS} on the way out,
 * so that only one of those names, never text from the request, can be recorded as the reason.
 *
 * @example
 *   pathRefusalOf(error) // → { reason: 'above-root', offset: 7 } for the target `/%2e%2e/x`
 */
export function pathRefusalOf(error: GatehouseError): { reason: PathRefusal; offset: number } | undefined {
  if (error.code !== 'ERR_REQUEST_PATH_INVALID' || error.data === undefined) return undefined;
  const { reason, offset } = error.data;
  if (typeof reason !== 'string' || !PATH_REFUSAL_NAMES.has(reason) || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  return { reason: reason as PathRefusal, offset };
}

/**
 * Splits a request target (Node's `req.url`) into a normalized path and a raw query.
 *
 * @throws GatehouseError `ERR_REQUEST_PATH_INVALID` with `data.reason` a {@link PathRefusal} and
 *   `data.offset` the index in `target` at which it was found.
 * @example
 *   normalizePath('/api/%2e%2e/admin?x=1') // → { path: '/admin', query: 'x=1' }
 *   normalizePath('/a%252e')               // → { path: '/a%252e', query: '' } (decoded once)
 */
export function normalizePath(target: string): NormalizedTarget {
  const length = target.length;
  if (length === 0) throw refuse('empty', 0);
  if (target.charCodeAt(0) !== 0x2f) throw refuse(target === '*' ? 'asterisk-form' : 'absolute-form', 0);
  if (length > MAX_TARGET_LENGTH) throw refuse('too-long', MAX_TARGET_LENGTH);

  let slow = false;
  let prev = 0x2f;
  let end = 1;
  for (; end < length; end++) {
    const c = target.charCodeAt(end);
    if (c === 0x3f) break; // '?'
    const kind = c < 128 ? RAW_CLASS[c] : REFUSE;
    if (kind !== OK) {
      if (kind === REFUSE) throw refuse(c === 0x23 ? 'fragment' : c === 0x5c ? 'backslash' : c === 0x3b ? 'semicolon' : 'raw-character', end);
      if (kind === SLASH || kind === DOT) { if (prev === 0x2f) slow = true; } // '//' or a segment starting with '.'
      else slow = true;
    }
    prev = c;
  }
  if (end > MAX_PATH_LENGTH) throw refuse('too-long', MAX_PATH_LENGTH);

  let query = '';
  if (end < length) {
    for (let i = end + 1; i < length; i++) {
      const c = target.charCodeAt(i);
      if (c < 0x21 || c > 0x7e) throw refuse('query-character', i);
      if (c === 0x23) throw refuse('fragment', i);
    }
    if (end + 1 < length) query = target.slice(end + 1);
  }
  const path = slow ? normalizeSlow(target, end) : end === length ? target : target.slice(0, end);
  return { path, query };
}

/**
 * Decodes, checks, resolves and re-encodes the path `target[0, end)`. The first pass has
 * already refused every raw character outside printable ASCII and `#`, `\`, `;`.
 */
function normalizeSlow(target: string, end: number): string {
  // The result is built as one string; `starts` remembers where each kept segment's '/'
  // is, so that '..' can cut it off again.
  let result = '';
  const starts: number[] = [];
  let trailingSlash = false;
  let start = 1;
  for (let pos = 1; pos <= end; pos++) {
    if (pos < end && target.charCodeAt(pos) !== 0x2f) continue;
    const last = pos === end;
    const segment = decodeSegment(target, start, pos);
    start = pos + 1;
    if (segment === '' || segment === '.') {
      // Empty segments ('//') collapse; '.' vanishes. Either keeps a trailing slash when last.
      trailingSlash = last;
    } else if (segment === '..') {
      if (starts.length === 0) throw refuse('above-root', pos);
      result = result.slice(0, starts.pop());
      trailingSlash = last;
    } else {
      starts.push(result.length);
      result += '/' + segment;
      trailingSlash = false;
    }
  }
  if (result === '') return '/';
  return trailingSlash ? result + '/' : result;
}

/** One segment, decoded once and re-encoded; `.` and `..` (however encoded) come back as such. */
function decodeSegment(target: string, start: number, end: number): string {
  let plain = true;
  for (let i = start; i < end; i++) {
    if (!PCHAR[target.charCodeAt(i)]) { plain = false; break; }
  }
  // Already canonical ('.', '..' and other dot-led names included): share the original.
  if (plain) return target.slice(start, end);

  // Output is built from runs of the original that are already canonical plus the
  // re-encoded pieces in between; every byte also goes to `scratch` for the UTF-8 check
  // (which must see the whole byte sequence, ASCII included).
  let out = '';
  let run = start;
  let n = 0;
  let highBytes = false;
  for (let i = start; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c !== 0x25) {
      scratch[n++] = c;
      if (!PCHAR[c]) { out += target.slice(run, i) + ENCODED[c]!; run = i + 1; }
      continue;
    }
    const hi = i + 2 < end ? HEX_VALUE[target.charCodeAt(i + 1) & 0x7f]! : 255;
    const lo = i + 2 < end ? HEX_VALUE[target.charCodeAt(i + 2) & 0x7f]! : 255;
    if (hi === 255 || lo === 255) throw refuse('invalid-escape', i);
    const byte = (hi << 4) | lo;
    // Decoding these would move segment boundaries between Gatehouse and the upstream.
    if (byte === 0x2f || byte === 0x5c) throw refuse('encoded-separator', i);
    if (byte < 0x20 || byte === 0x7f) throw refuse('control-character', i);
    if (byte === 0x3b) throw refuse('semicolon', i);
    if (byte >= 0x80) highBytes = true;
    scratch[n++] = byte;
    out += target.slice(run, i) + ENCODED[byte]!;
    i += 2;
    run = i + 1;
  }
  out += target.slice(run, end);
  if (highBytes) {
    const bytes = scratch.subarray(0, n);
    // Same acceptance as TextDecoder('utf-8', { fatal: true }) (WHATWG Encoding): no overlong
    // forms, no surrogates, nothing above U+10FFFF; without building a string.
    if (!isUtf8(bytes)) throw refuse('invalid-utf8', start);
    for (let i = 0; i + 1 < n; i++) {
      // U+0080..U+009F (C1 controls) are the only code points encoded as C2 80..C2 9F.
      if (bytes[i] === 0xc2 && bytes[i + 1]! < 0xa0) throw refuse('control-character', start);
    }
  }
  // '%2e' decodes to '.', which is pchar and comes out literally: dot segments compare as text.
  return out;
}
