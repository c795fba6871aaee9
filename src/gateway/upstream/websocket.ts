/**
 * WebSocket upgrades are tunnelled: after the upstream answers 101, Gatehouse writes the
 * 101 head to the client and pipes bytes both ways. Authentication and policy have already
 * run on the upgrade request like on any other.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { setsGatehouseCookie } from '../../authn/session/cookies.ts';

const UNSAFE = /[\r\n\0]/;

/** Fields that never cross a proxy (RFC 9110 §7.6.1); `upgrade` does, on a 101. */
const HOP_BY_HOP = new Set(['keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding']);

/**
 * The names an upstream's Connection field(s) declare hop-by-hop, but `upgrade`: like on every
 * other response (response-headers.ts), they are the upstream's own and stop here. Gatehouse
 * writes its own `Connection: Upgrade`.
 */
function connectionNames(value: string | string[] | undefined): Set<string> {
  const names = new Set<string>();
  for (const field of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    for (const n of field.split(',')) {
      const name = n.trim().toLowerCase();
      if (name && name !== 'upgrade') names.add(name);
    }
  }
  return names;
}

/**
 * The 101 head for the client: the upstream's fields, the request id and the headers stages
 * added (RateLimit…). With `hsts`, Gatehouse's Strict-Transport-Security replaces the
 * upstream's, as on every other response (response-headers.ts).
 */
export function upgradeResponseHead(statusCode: number, headers: IncomingHttpHeaders, requestId: string, added: readonly string[] | undefined, hsts?: string): string {
  let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\nconnection: Upgrade\r\n`;
  if (hsts !== undefined) head += `strict-transport-security: ${hsts}\r\n`;
  const hopByHop = connectionNames(headers.connection);
  for (const name in headers) {
    if (name === 'x-request-id' || name === 'connection' || HOP_BY_HOP.has(name) || hopByHop.has(name) || (hsts !== undefined && name === 'strict-transport-security')) continue;
    const value = headers[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      // Values came through undici's parser, but a CR/LF here would split the response.
      if (UNSAFE.test(v)) continue;
      // An upstream must not plant Gatehouse's session or IdP cookies (response-headers.ts).
      if (name === 'set-cookie' && setsGatehouseCookie(v)) continue;
      head += `${name}: ${v}\r\n`;
    }
  }
  if (added !== undefined) {
    for (let i = 0; i < added.length; i += 2) {
      const name = added[i]!;
      const value = added[i + 1]!;
      if (headers[name.toLowerCase()] !== undefined || UNSAFE.test(name) || UNSAFE.test(value)) continue;
      head += `${name}: ${value}\r\n`;
    }
  }
  return head + `x-request-id: ${requestId}\r\n\r\n`;
}
