/**
 * Response headers from the upstream, minus hop-by-hop fields (RFC 9110 §7.6.1), plus
 * the request id and the headers stages added for the client (RateLimit…). Built as a flat
 * [name, value, …] list for writeHead, which is the cheapest form Node accepts and keeps
 * repeated fields (set-cookie) intact.
 *
 * A 204 loses any Content-Length the upstream sent: RFC 9110 §8.6 forbids the field there,
 * and Gatehouse is the server its clients judge (a 304 keeps it: there it describes the
 * selected representation).
 *
 * With HSTS on, Gatehouse's Strict-Transport-Security replaces the upstream's: the gateway
 * owns the host's transport, and an upstream's `max-age=0` must not switch it off.
 *
 * Set-Cookie fields that would set Gatehouse's own session or IdP cookies are dropped: an
 * upstream must not plant a session in the user's browser (see setsGatehouseCookie).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { setsGatehouseCookie } from '../../authn/session/cookies.ts';

/** Fields the gateway adds to whatever the upstream sent (one list once combined, RFC 9110 §5.3). */
const LIST_FIELDS = new Set(['ratelimit', 'ratelimit-policy']);

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate']);

export function responseHeaders(headers: IncomingHttpHeaders, requestId: string, added: readonly string[] | undefined, status = 200, hsts?: string): string[] {
  const out: string[] = [];
  if (status === 204) delete headers['content-length'];
  // Sent twice, Connection arrives as a list: the names in each field are hop-by-hop.
  const field = headers.connection;
  const connection = Array.isArray(field) ? field.join(',') : field;
  const named = connection !== undefined && connection !== 'keep-alive' && connection !== 'close'
    ? new Set(connection.toLowerCase().split(',').map((s) => s.trim()))
    : undefined;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name) || name === 'x-request-id') continue;
    if (hsts !== undefined && name === 'strict-transport-security') continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') {
      // undici hands a field sent once as a string, Set-Cookie included.
      if (name !== 'set-cookie' || !setsGatehouseCookie(value)) out.push(name, value);
    } else if (name === 'set-cookie') {
      for (const v of value) if (!setsGatehouseCookie(v)) out.push(name, v);
    } else for (const v of value) out.push(name, v);
  }
  out.push('x-request-id', requestId);
  if (hsts !== undefined) out.push('strict-transport-security', hsts);
  if (added !== undefined) {
    // A field the upstream sent itself wins, as it did when stages set headers on the response;
    // except RateLimit and RateLimit-Policy, lists to which every party adds its own policies
    // (draft-ietf-httpapi-ratelimit-headers): an upstream's own limits must neither hide the
    // gateway's nor leave its RateLimit naming a policy that RateLimit-Policy does not list.
    for (let i = 0; i < added.length; i += 2) {
      const name = added[i]!.toLowerCase();
      if (headers[name] === undefined || LIST_FIELDS.has(name)) out.push(added[i]!, added[i + 1]!);
    }
  }
  return out;
}
