/**
 * WebSocket upgrades are tunnelled: after the upstream answers 101, Gatehouse writes the
 * 101 head to the client and pipes bytes both ways. Authentication and policy have already
 * run on the upgrade request like on any other.
 */
import type { IncomingHttpHeaders } from 'node:http';

export function upgradeResponseHead(statusCode: number, headers: IncomingHttpHeaders, requestId: string): string {
  let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
  for (const name in headers) {
    if (name === 'x-request-id') continue;
    const value = headers[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      // Values came through undici's parser, but a CR/LF here would split the response.
      if (/[\r\n\0]/.test(v)) continue;
      head += `${name}: ${v}\r\n`;
    }
  }
  return head + `x-request-id: ${requestId}\r\n\r\n`;
}
