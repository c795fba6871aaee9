/**
 * Request-smuggling checks on the message framing headers, from `req.rawHeaders`.
 *
 * Node's parser already refuses the worst cases; these checks repeat them on every
 * transport (HTTP/1.1 and HTTP/2 compat) and close the ones it tolerates, such as two
 * equal Content-Length fields (which `req.headers` silently folds into one). Gatehouse
 * and the upstream must agree on where a body ends; any framing two servers could read
 * differently is refused, never repaired:
 * - Content-Length and Transfer-Encoding together (RFC 9112 §6.1: "ought to be handled
 *   as an error"; the CL.TE / TE.CL attacks);
 * - more than one Content-Length field, even with equal values, or a list value (`5, 5`);
 * - a Content-Length that is not 1–15 ASCII digits (`+5`, `0x5`, ` 5 `, `5.0`, empty);
 * - Transfer-Encoding other than exactly one field `chunked` (`gzip, chunked`,
 *   `chunked, identity`, `xchunked`, `chunked` twice);
 * - Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: the framing is to be treated
 *   as faulty). HTTP/1.0 has no chunked coding, so an HTTP/1.0 server or cache in front of
 *   or behind Gatehouse reads the chunks as the body's bytes up to the connection's end or
 *   its Content-Length, and the two disagree about where the request stops.
 *
 * The same pass refuses a second Host field (RFC 9112 §3.2: 400). Node keeps the first and
 * drops the rest, other servers take the last: a proxy in front of Gatehouse could check
 * or route one host while Gatehouse routes the other. A second Authorization field likewise
 * (it is not a list field, RFC 9110 §11.6.2): Gatehouse would authenticate the first while
 * an upstream that receives both may act on the last.
 */
import { GatehouseError } from '../../core/errors.ts';

/** What the framing headers say about the request body. */
export interface RequestFraming {
  /** Declared body length, when Content-Length was sent. */
  contentLength: number | undefined;
  /** True when the body is chunked (Transfer-Encoding: chunked). */
  chunked: boolean;
}

const CONTENT_LENGTH = /^[0-9]{1,15}$/;

function smuggling(detail: string): GatehouseError {
  return new GatehouseError('ERR_REQUEST_SMUGGLING', { detail });
}

/**
 * Checks the framing headers of a request.
 *
 * @throws GatehouseError `ERR_REQUEST_SMUGGLING` for any ambiguous framing;
 *   `ERR_REQUEST_HEADER_INVALID` for a second Host or Authorization field.
 * @example
 *   const { contentLength } = checkFraming(req.rawHeaders);
 *   if (contentLength !== undefined && contentLength > route.maxBodyBytes) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE');
 */
export function checkFraming(rawHeaders: readonly string[], http10 = false): RequestFraming {
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let host = false;
  let authorization = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Cheap filter on length before comparing: 4 = host, 13 = authorization, 14 = content-length, 17 = transfer-encoding.
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (host) throw new GatehouseError('ERR_REQUEST_HEADER_INVALID', { detail: 'more than one Host field' });
      host = true;
    } else if (name.length === 13 && name.toLowerCase() === 'authorization') {
      if (authorization) throw new GatehouseError('ERR_REQUEST_HEADER_INVALID', { detail: 'more than one Authorization field' });
      authorization = true;
    } else if (name.length === 14 && name.toLowerCase() === 'content-length') {
      if (contentLength !== undefined) throw smuggling('more than one Content-Length field');
      contentLength = rawHeaders[i + 1]!;
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      if (transferEncoding !== undefined) throw smuggling('more than one Transfer-Encoding field');
      transferEncoding = rawHeaders[i + 1]!;
    }
  }
  if (contentLength !== undefined && transferEncoding !== undefined) throw smuggling('both Content-Length and Transfer-Encoding');
  if (transferEncoding !== undefined) {
    if (http10) throw smuggling('Transfer-Encoding in an HTTP/1.0 request');
    if (transferEncoding.trim().toLowerCase() !== 'chunked') throw smuggling('Transfer-Encoding other than chunked');
    return { contentLength: undefined, chunked: true };
  }
  if (contentLength !== undefined) {
    if (!CONTENT_LENGTH.test(contentLength)) throw smuggling('Content-Length is not a decimal number');
    return { contentLength: Number(contentLength), chunked: false };
  }
  return { contentLength: undefined, chunked: false };
}
