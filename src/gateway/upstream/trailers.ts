/**
 * Response trailers (RFC 9110 §6.5, RFC 9112 §7.1.2): fields an upstream sends after a
 * chunked body, announced up front in its `Trailer` field (checksums, Server-Timing, gRPC's
 * status over HTTP/1.1). Gatehouse passes `TE: trailers` on to upstreams, so it passes their
 * trailers back instead of dropping them silently.
 *
 * Rules, stricter than the RFC's "may":
 * - only fields the upstream announced in `Trailer` are passed, and only announced names
 *   that are allowed here are announced to the client (a late field the client was not told
 *   about is dropped);
 * - never fields that a trailer must not carry (§6.5.1: framing, routing, authentication,
 *   cookies, response control, content metadata), nor the hop-by-hop ones, nor Gatehouse's
 *   reserved `x-gatehouse-*` namespace or the request id it sets itself — a trailer is a
 *   second header section, and an upstream must not get through it what the header filters
 *   refuse;
 * - only to HTTP/1.1 clients (HTTP/1.0 has no chunked coding) and only on a response that
 *   goes out chunked (the upstream sent no Content-Length), with a body (not HEAD, 204, 304).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

const FORBIDDEN = new Set([
  // framing and routing
  'content-length', 'transfer-encoding', 'host', 'trailer', 'te', 'connection', 'keep-alive', 'proxy-connection', 'upgrade',
  // authentication, cookies
  'authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate', 'authentication-info', 'cookie', 'set-cookie',
  // response control data and content metadata
  'age', 'cache-control', 'expires', 'date', 'location', 'retry-after', 'vary', 'warning', 'content-encoding', 'content-type',
  'content-range', 'content-location', 'content-disposition', 'strict-transport-security', 'alt-svc',
  // Gatehouse's own
  'x-request-id', 'traceparent', 'tracestate', 'ratelimit', 'ratelimit-policy',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * The trailer names the client is told about, or undefined when no trailer goes through.
 * Only called when the upstream's head has a `Trailer` field (the hot path checks that).
 */
export function allowedTrailers(upstream: IncomingHttpHeaders, status: number, method: string, clientHttpVersion: string): Set<string> | undefined {
  if (clientHttpVersion !== '1.1' || upstream['content-length'] !== undefined) return undefined;
  if (method === 'HEAD' || status === 204 || status === 304) return undefined;
  const declared = upstream.trailer;
  const list = Array.isArray(declared) ? declared.join(',') : declared ?? '';
  let names: Set<string> | undefined;
  for (const raw of list.split(',')) {
    const name = raw.trim().toLowerCase();
    if (!TOKEN.test(name) || FORBIDDEN.has(name) || name.startsWith('x-gatehouse-')) continue;
    (names ??= new Set()).add(name);
  }
  return names;
}

/** Adds the announced trailers the upstream actually sent; a value Node refuses to write drops them all. */
export function addTrailers(res: ServerResponse, allowed: Set<string>, trailers: IncomingHttpHeaders | undefined): string | undefined {
  if (trailers === undefined) return undefined;
  const out: [string, string][] = [];
  for (const name in trailers) {
    if (!allowed.has(name)) continue;
    const value = trailers[name];
    if (typeof value === 'string') out.push([name, value]);
    else if (value !== undefined) for (const v of value) out.push([name, v]);
  }
  if (out.length === 0) return undefined;
  try {
    res.addTrailers(out);
    return undefined;
  } catch (err) {
    // Node checks values for characters that would break the framing; the body is complete
    // either way, so the response ends without its trailers and the cause goes to the log.
    return (err as Error).message;
  }
}
