/**
 * The request id: one per request, in logs, audit, the upstream request and the response.
 *
 * An incoming `x-request-id` is kept only when it comes from a trusted proxy (which
 * correlates its own logs with ours) and matches {@link REQUEST_ID_PATTERN}. From anyone
 * else it is replaced: a client must not be able to choose the id under which its
 * requests are audited, collide with another request's id, or smuggle log-injection
 * characters into every log line.
 */
import { randomUUID } from 'node:crypto';

/**
 * Grammar of an accepted incoming request id: 8–128 characters from `A–Z a–z 0–9 . _ : -`.
 * Wide enough for UUIDs, ULIDs, AWS/GCP trace ids and Envoy's ids; no spaces, quotes,
 * `=` or control characters, so it is safe in logs and headers without escaping.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

/** A fresh request id: a random (v4) UUID, which Node serves from a cached entropy pool. */
export function generateRequestId(): string {
  return randomUUID();
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
  return randomUUID();
}
