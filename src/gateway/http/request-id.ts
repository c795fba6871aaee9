/**
 * The request id: one per request, in logs, audit, the upstream request and the response.
 *
 * An incoming `x-request-id` is kept only when it comes from a trusted proxy (which
 * correlates its own logs with ours) and matches {@link REQUEST_ID_PATTERN}. From anyone
 * else it is replaced: a client must not be able to choose the id under which its
 * requests are audited, collide with another request's id, or smuggle log-injection
 * characters into every log line.
 */
import { randomFillSync } from 'node:crypto';

/**
 * Grammar of an accepted incoming request id: 8–128 characters from `A–Z a–z 0–9 . _ : -`.
 * Wide enough for UUIDs, ULIDs, AWS/GCP trace ids and Envoy's ids; no spaces, quotes,
 * `=` or control characters, so it is safe in logs and headers without escaping.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

// Random bytes for 256 ids per randomFillSync (as crypto.randomUUID caches them), written
// out as one flat string: randomUUID concatenates 20 pieces, a cons-string tree of some
// 600 bytes that is flattened again each time the id goes into a header block.
const BATCH = 256;
const random = Buffer.allocUnsafe(16 * BATCH);
let offset = random.length;
const text = Buffer.allocUnsafe(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A fresh request id: a time-ordered (v7, RFC 9562) UUID — 48 bits of Unix milliseconds, then
 * 74 random bits from the CSPRNG. Time order matters for the audit log, which indexes every
 * record by request id: random (v4) ids land all over that B-tree, so each insert touches a
 * cold page (measured on SQLite with 300k records: ~25–31 µs of CPU per insert against ~7–8 µs
 * for v7 ids, and the gap grows with the table); v7 ids are appended at its right edge. The
 * id reveals when the request arrived, which its response and logs say anyway.
 */
export function generateRequestId(): string {
  if (offset === random.length) { randomFillSync(random); offset = 0; }
  const start = offset;
  offset += 16;
  // Bytes 0–5: the timestamp, big-endian (2^48 ms lasts until the year 10889).
  const now = Date.now();
  random.writeUIntBE(now, start, 6);
  let at = 0;
  for (let i = 0; i < 16; i++) {
    let byte = random[start + i]!;
    if (i === 6) byte = (byte & 0x0f) | 0x70; // version 7
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // RFC 9562 variant
    text[at++] = HEX[byte >> 4]!;
    text[at++] = HEX[byte & 0x0f]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) text[at++] = 0x2d; // '-'
  }
  return text.toString('latin1', 0, 36);
}

/**
 * The id of this request.
 *
 * @param incoming `req.headers['x-request-id']` (an array or a comma-joined value when
 *   repeated; both are refused since ',' is outside the grammar).
 * @param peerTrusted from `resolveClientAddress`.
 */
export function resolveRequestId(incoming: string | readonly string[] | undefined, peerTrusted: boolean): string {
  if (peerTrusted && typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming)) return incoming;
  return generateRequestId();
}
