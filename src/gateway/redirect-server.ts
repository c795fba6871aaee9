/**
 * The plain-HTTP listener: every request gets a 308 to the same host and path on HTTPS, or an
 * error with a stable code. Nothing is proxied and nothing reaches the audit log (there is no
 * pipeline here), but every answer carries an `X-Request-Id` and gets one access line — also
 * those Node's parser or its request handling would otherwise give on its own, bare and
 * unrecorded: a missing Host, an oversized or malformed head, a framing conflict, a head too
 * slow, an unsupported expectation, a CONNECT (which Node closed without a word).
 */
import { createServer as createHttpServer, IncomingMessage, ServerResponse, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { LimitsConfig } from '../core/config/gateway-schema.ts';
import { GatehouseError } from '../core/errors.ts';
import { unsupportedExpectation } from './http/expect-continue.ts';
import { generateRequestId } from './http/request-id.ts';
import { applyLimits, clientErrorOf, isHttpClientError } from './listeners.ts';

/** One access line of the redirect listener (the HTTPS listener's lines come from pipeline/record.ts). */
export interface RedirectAccess {
  type: 'access';
  listener: 'http';
  requestId: string;
  method: string;
  host: string;
  /** The path without its query string (which may carry secrets and is not needed to tell requests apart). */
  path: string;
  status: number;
  client: string | undefined;
  code?: string;
}

const HOST = /^(?:[a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$|^\[[0-9a-f:.]+\]$/i;

export function createRedirectServer(httpsPort: number, limits: LimitsConfig, log?: (line: RedirectAccess) => void): HttpServer {
  const record = (req: IncomingMessage | undefined, client: string | undefined, requestId: string, host: string, status: number, code?: string): void => {
    log?.({
      // Capped like the path: a refused Host can be as long as the header limit allows (16 KB), and
      // each such request would write it whole. 261 = a 253-character name and ":65535".
      type: 'access', listener: 'http', requestId, method: req?.method ?? '', host: host.slice(0, 261), path: (req?.url ?? '').split('?', 1)[0]!.slice(0, 2048),
      status, client, ...(code ? { code } : {}),
    });
  };
  /** Read before the answer is written: a finished response lets go of its socket. */
  const clientOf = (res: ServerResponse, req: IncomingMessage | undefined): string | undefined => ((res.socket ?? req?.socket) as Socket | null | undefined)?.remoteAddress;
  /** The error answer of this listener: JSON with the code and request id, and the connection closed behind it. */
  const refuse = (req: IncomingMessage | undefined, res: ServerResponse, requestId: string, host: string, error: GatehouseError): void => {
    res.shouldKeepAlive = false;
    const client = clientOf(res, req);
    const body = JSON.stringify({ error: { code: error.code, message: error.publicMessage, requestId } }) + '\n';
    res.writeHead(error.status, {
      'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close',
      'x-request-id': requestId, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store',
    }).end(body);
    record(req, client, requestId, host, error.status, error.code);
  };
  /** A response of its own for a socket Node handed over without one (a refused head, CONNECT). */
  const detachedResponse = (socket: Duplex, req?: IncomingMessage): { req: IncomingMessage; res: ServerResponse } => {
    const request = req ?? new IncomingMessage(socket as Socket);
    const res = new ServerResponse(request);
    res.assignSocket(socket as Socket);
    // Node's end-of-response handling closes only the responses its parser made.
    res.once('finish', () => socket.end());
    return { req: request, res };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = generateRequestId();
    const hostHeader = req.headers.host ?? '';
    const hostname = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.split(':')[0]!;
    const url = req.url ?? '/';
    if (unsupportedExpectation(req.headers.expect)) {
      refuse(req, res, requestId, hostname, new GatehouseError('ERR_REQUEST_EXPECTATION_FAILED'));
      return;
    }
    // Only an origin-form path that cannot be read as a scheme-relative URL is carried over;
    // a missing Host (Node's own check is off, so that the refusal is this one) is malformed.
    if (!HOST.test(hostname) || !url.startsWith('/') || url.startsWith('//') || /[\r\n\0\\]/.test(url)) {
      refuse(req, res, requestId, hostname, new GatehouseError('ERR_REQUEST_MALFORMED'));
      return;
    }
    const port = httpsPort === 443 ? '' : `:${httpsPort}`;
    const client = clientOf(res, req);
    res.writeHead(308, { location: `https://${hostname}${port}${url}`, 'content-length': '0', connection: 'close', 'x-request-id': requestId }).end();
    record(req, client, requestId, hostname, 308);
  };

  const server = createHttpServer({
    maxHeaderSize: limits.maxHeaderBytes,
    requireHostHeader: false,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  }, handle);
  applyLimits(server, limits);
  // Expect: 100-continue gets its redirect at once, without inviting the body it would not read;
  // any other expectation is refused by the handler (417 with its code, not Node's bare one).
  server.on('checkContinue', handle);
  server.on('checkExpectation', handle);
  // CONNECT (a tunnel request) cannot be redirected: refused like on the HTTPS listener.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    const { res } = detachedResponse(socket, req);
    refuse(req, res, generateRequestId(), '', new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED'));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A reset or a TLS-less failure has nobody to answer; a head behind a response in progress
    // (pipelined behind a redirect, which closes the connection anyway) is not answered either.
    const busy = (socket as { _httpMessage?: unknown })._httpMessage;
    if (!isHttpClientError(err) || busy || !socket.writable) {
      if (busy && socket.writable) socket.end();
      else socket.destroy();
      return;
    }
    const { res } = detachedResponse(socket);
    refuse(undefined, res, generateRequestId(), '', clientErrorOf(err));
  });
  return server;
}
