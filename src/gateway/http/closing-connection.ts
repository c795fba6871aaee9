/**
 * Requests pipelined behind a response that closes the connection.
 *
 * Node's parser goes on reading the bytes a client sent after a request, and emits every
 * complete request it finds there, even when the answer before them carries
 * `Connection: close` and their own answers will never be written. After a refusal for
 * ambiguous framing (`Transfer-Encoding: gzip, chunked`, which Node accepts and Gatehouse
 * refuses), those bytes are exactly where a front proxy and Gatehouse may disagree: what
 * Gatehouse parses there as a request the front proxy may not have seen as one, or may
 * complete with the next user's request on its pooled connection (request smuggling).
 * Such a request is refused before any stage works on it, so it never reaches an upstream
 * or one of Gatehouse's own handlers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Node's own markers: the response being written on a socket, and a response that ends its connection. */
type NodeSocket = { _httpMessage?: (ServerResponse & { _last?: boolean }) | null };

/**
 * True when an earlier response on `req`'s connection closes it, so `res` would never be sent:
 * its head says so (`_last`), or, not written yet (an answer the audit log holds until its
 * record is spooled), it is to (`shouldKeepAlive` false, which its head will turn into
 * `Connection: close`).
 */
export function behindClosingResponse(req: IncomingMessage, res: ServerResponse): boolean {
  const socket = req.socket as unknown as NodeSocket | null;
  if (socket === null) return false;
  const current = socket._httpMessage;
  return current !== undefined && current !== null && current !== res && (current._last === true || !current.shouldKeepAlive);
}
