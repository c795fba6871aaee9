/**
 * A tunnel through an operator's HTTP egress proxy (HTTP CONNECT, RFC 9110 §9.3.6), for the
 * address guard (address-guard.ts): the guard resolves the name and judges the addresses
 * itself, and the proxy is asked to CONNECT to the IP address that passed, never to the name,
 * so the proxy's own DNS cannot send the connection elsewhere. TLS then runs over the tunnel
 * (undici's connector, `httpSocket`), checked against the name.
 *
 * The proxy's address is the operator's choice and is not judged. Its credentials (the URL's
 * user info) go in `Proxy-Authorization` and nowhere else: errors name the proxy by
 * {@link ProxyUrl.display}.
 */
import { isIP, type Socket } from 'node:net';
import { buildConnector } from 'undici';
import type { ProxyUrl } from '../net/proxy-url.ts';

/** Bound of the proxy's answer to CONNECT: status line and header fields. */
const MAX_RESPONSE_HEAD = 16 * 1024;
/** Default bound of reaching the proxy and having its answer to CONNECT. */
export const DEFAULT_TUNNEL_TIMEOUT_MS = 10_000;

/** Why a tunnel was not opened (the cause of the request's failure); never carries credentials. */
export class ProxyTunnelError extends Error {
  readonly code = 'ERR_PROXY_TUNNEL_FAILED';
}

/** Opens a tunnel to `address`:`port` (an IP address); resolves with the socket, ready for the bytes of the connection. */
export type ProxyTunnel = (address: string, port: number) => Promise<Socket>;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The status code of a response head (without its final empty line), or a problem. Strict:
 * HTTP/1.x, CRLF line ends only, well-formed field names, no obsolete line folding.
 */
export function connectResponseStatus(head: string): number | string {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.[01] ([0-9]{3})(?: [^\r\n\0]*)?$/.exec(lines[0]!);
  if (!status) return 'the answer to CONNECT is not an HTTP/1.x status line';
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || /[\r\n\0]/.test(line)) return 'the answer to CONNECT has a malformed header field';
  }
  return Number(status[1]);
}

export interface ProxyTunnelOptions {
  /** Bound from the start to the proxy's answer to CONNECT (default {@link DEFAULT_TUNNEL_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** CA certificates trusted for an https:// proxy (default: the system trust store, which NODE_EXTRA_CA_CERTS extends). */
  ca?: string;
}

/** A {@link ProxyTunnel} through `proxy`. */
export function proxyTunnel(proxy: ProxyUrl, options: ProxyTunnelOptions = {}): ProxyTunnel {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS;
  // TLS to an https:// proxy is checked against the proxy's name; no session cache, as for the provider.
  const connect = buildConnector({ maxCachedSessions: 0, timeout: timeoutMs, allowH2: false, ...(options.ca !== undefined ? { ca: options.ca } : {}) });
  const nameOfProxy = isIP(proxy.hostname) ? {} : { servername: proxy.hostname };
  return (address, port) => new Promise<Socket>((resolve, reject) => {
    const authority = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
    const what = `CONNECT ${authority} through proxy ${proxy.display}`;
    let socket: Socket | undefined;
    let settled = false;
    const fail = (message: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      reject(new ProxyTunnelError(`${what}: ${message}`, cause === undefined ? undefined : { cause }));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    connect({ hostname: proxy.hostname, host: proxy.hostname, protocol: proxy.protocol, port: String(proxy.port), ...nameOfProxy }, (error, opened) => {
      if (error !== null || opened === null) { fail(`cannot reach the proxy (${error?.message ?? 'no socket'})`, error); return; }
      if (settled) { opened.destroy(); return; }
      const s: Socket = opened;
      socket = s;
      let head = Buffer.alloc(0);
      const cleanup = () => {
        s.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
      };
      const onEnd = () => { cleanup(); fail('the proxy closed the connection before answering'); };
      const onError = (e: Error) => { cleanup(); fail(`connection to the proxy failed (${e.message})`, e); };
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1 || end + 4 > MAX_RESPONSE_HEAD) {
          if (end !== -1 || head.length > MAX_RESPONSE_HEAD) { cleanup(); fail(`the proxy's answer has no end of header within ${MAX_RESPONSE_HEAD} bytes`); }
          return;
        }
        cleanup();
        const status = connectResponseStatus(head.subarray(0, end).toString('latin1'));
        if (typeof status === 'string') { fail(status); return; }
        // The proxy's reason phrase and body are its words, not needed here: the status says it.
        if (status < 200 || status > 299) { fail(`the proxy answered ${status}${status === 407 ? ' (proxy authentication required or refused)' : ''}`); return; }
        settled = true;
        clearTimeout(timer);
        // The tunnel's first bytes, if the proxy sent any with its answer, belong to the
        // connection: put back, the TLS client (or undici's parser) reads them first.
        s.pause();
        const rest = head.subarray(end + 4);
        if (rest.length > 0) s.unshift(rest);
        resolve(s);
      };
      s.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onError);
      const authorization = proxy.authorization !== undefined ? `Proxy-Authorization: ${proxy.authorization}\r\n` : '';
      s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${authorization}\r\n`);
    });
  });
}
