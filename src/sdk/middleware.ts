/**
 * Middleware for node:http, Express and Fastify that verifies the identity assertion and
 * exposes the identity (`identityOf(req)`, or `req.gatehouse`). A request without a valid
 * assertion gets 401 with a stable code — unless `optional` is set, in which case a
 * request with no assertion at all passes without identity (an invalid one is still refused).
 *
 * No dependency on Express or Fastify: only the few members used are typed here.
 */
import { STATUS_CODES } from 'node:http';
import { GatehouseError, toGatehouseError } from '../core/errors.ts';
import { IDENTITY_ASSERTION_HEADER } from './contract.ts';
import type { GatehouseIdentity } from './identity.ts';
import type { AssertionVerifier } from './verifier.ts';
import { dropUnsignedIdentityHeaders } from './unsigned-headers.ts';

type Headers = Record<string, string | string[] | undefined>;

/** The parts of node's IncomingMessage (and Express's Request) that are used. */
export interface RequestLike {
  method?: string | undefined;
  url?: string | undefined;
  /** Express: the request target as received; `url` loses the mount path under `app.use('/api', …)`. */
  originalUrl?: string | undefined;
  headers: Headers;
}

/** The parts of node's ServerResponse (and Express's Response) that are used. */
export interface ResponseLike {
  statusCode: number;
  headersSent?: boolean;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

/** The parts of a Fastify request and reply that are used. */
export interface FastifyRequestLike {
  method: string;
  url: string;
  originalUrl?: string | undefined;
  headers: Headers;
  raw?: object;
}
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(body: string): FastifyReplyLike;
}

export interface MiddlewareOptions {
  /** Let requests without any assertion through, without identity. Default false. */
  optional?: boolean;
  /** Called with every refusal (log it: the cause is in `err.detail`, never sent). */
  onRefused?: (err: GatehouseError, req: RequestLike | FastifyRequestLike) => void;
  /**
   * Leave unsigned `x-gatehouse-*` headers (subject, roles, kind, approval, peer, …) on the
   * request: `true` for all of them, or a list of the names to keep (e.g. `['x-gatehouse-peer']`
   * behind the sidecar). Default: none; they are removed from every request that passes,
   * because nothing signs them and anyone who reaches the service without the gateway can set
   * them. Only for an application that cannot yet stop reading them, on a connection only the
   * gateway (or the sidecar) can open.
   */
  keepUnsignedIdentityHeaders?: boolean | readonly string[];
}

const identities = new WeakMap<object, GatehouseIdentity>();

/** The verified identity of a request that passed the middleware, or undefined. */
export function identityOf(req: object): GatehouseIdentity | undefined {
  return identities.get(req);
}

function single(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  // Two assertion headers are an attack or a broken proxy, never a normal request.
  if (Array.isArray(v)) throw new GatehouseError('ERR_SDK_ASSERTION_INVALID', { detail: `${v.length} ${name} headers` });
  return v;
}

async function verifyRequest(verifier: AssertionVerifier, req: RequestLike | FastifyRequestLike, options: MiddlewareOptions): Promise<GatehouseIdentity | undefined> {
  const token = single(req.headers, IDENTITY_ASSERTION_HEADER);
  if (token === undefined && options.optional) return undefined;
  const requestId = single(req.headers, 'x-request-id');
  // A bound assertion names the path the gateway sent; a mounted middleware's `url` is only
  // the rest of it, which would let an assertion for `/x` pass on `/api/x`.
  const url = req.originalUrl ?? req.url ?? '/';
  return verifier.verify(token, { method: req.method ?? 'GET', url, ...(requestId === undefined ? {} : { requestId }) });
}

/**
 * A hook that throws (a broken logger) must not keep the refusal from being sent: the request
 * would hang, and the rejection would be unhandled, which ends the process.
 */
function notifyRefused(options: MiddlewareOptions, err: GatehouseError, req: RequestLike | FastifyRequestLike): void {
  try {
    options.onRefused?.(err, req);
  } catch {
    // The refusal itself is what matters; the hook's own failure is its caller's to see.
  }
}

function errorBody(err: GatehouseError): string {
  return JSON.stringify({ error: { code: err.code, message: err.publicMessage } });
}

/** Writes a Gatehouse-style JSON error (status, code, public message; never the detail). */
export function sendError(res: ResponseLike, error: unknown): void {
  const err = toGatehouseError(error);
  if (res.headersSent) return;
  res.statusCode = err.status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(errorBody(err));
}

/** Removes the unsigned headers the options do not keep from a request that passed. */
function dropUnsigned(req: object, options: MiddlewareOptions): void {
  const keep = options.keepUnsignedIdentityHeaders;
  if (keep === true) return;
  dropUnsignedIdentityHeaders(req, new Set(Array.isArray(keep) ? keep.map((n) => n.toLowerCase()) : []));
}

function attach(req: RequestLike & { gatehouse?: GatehouseIdentity }, identity: GatehouseIdentity | undefined, options: MiddlewareOptions): void {
  // Also without identity (`optional`): unsigned identity headers on an anonymous request are
  // exactly what an application must not believe.
  dropUnsigned(req, options);
  if (identity === undefined) return;
  identities.set(req, identity);
  req.gatehouse = identity;
}

/**
 * Wraps a node:http request handler.
 * @example
 *   http.createServer(withGatehouseIdentity(verifier, (req, res) => {
 *     res.end(`hello ${identityOf(req)!.subject}`);
 *   }));
 */
export function withGatehouseIdentity<Req extends RequestLike, Res extends ResponseLike>(
  verifier: AssertionVerifier,
  handler: (req: Req, res: Res) => unknown,
  options: MiddlewareOptions = {},
): (req: Req, res: Res) => Promise<void> {
  return async (req, res) => {
    let identity: GatehouseIdentity | undefined;
    try {
      identity = await verifyRequest(verifier, req, options);
    } catch (error) {
      const err = toGatehouseError(error);
      notifyRefused(options, err, req);
      sendError(res, err);
      return;
    }
    attach(req, identity, options);
    await handler(req, res);
  };
}

/** The parts of the socket of node's 'upgrade' event that are used. */
export interface UpgradeSocketLike {
  writable?: boolean;
  end(data: string): unknown;
  destroy(): unknown;
}

/**
 * Wraps a node:http `'upgrade'` listener (WebSocket). Upgrade requests are not 'request'
 * events: they never pass through withGatehouseIdentity (or Express middleware), so
 * without this a WebSocket endpoint would take any connection. A refused upgrade gets the
 * JSON error as a plain HTTP response and the socket is closed; the handler never runs.
 * @example
 *   server.on('upgrade', withGatehouseUpgrade(verifier, (req, socket, head) => {
 *     wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
 *   }));
 */
export function withGatehouseUpgrade<Req extends RequestLike, Sock extends UpgradeSocketLike, Head>(
  verifier: AssertionVerifier,
  handler: (req: Req, socket: Sock, head: Head) => unknown,
  options: MiddlewareOptions = {},
): (req: Req, socket: Sock, head: Head) => Promise<void> {
  return async (req, socket, head) => {
    let identity: GatehouseIdentity | undefined;
    try {
      identity = await verifyRequest(verifier, req, options);
    } catch (error) {
      const err = toGatehouseError(error);
      notifyRefused(options, err, req);
      const body = errorBody(err);
      if (socket.writable !== false) {
        socket.end(`HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\ncontent-type: application/json\r\ncache-control: no-store\r\n`
          + `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else socket.destroy();
      return;
    }
    attach(req, identity, options);
    await handler(req, socket, head);
  };
}

/**
 * Express (or Connect) middleware.
 * @example
 *   app.use(gatehouseExpress(verifier));
 *   app.get('/me', (req, res) => res.json(identityOf(req)));
 */
export function gatehouseExpress(verifier: AssertionVerifier, options: MiddlewareOptions = {}) {
  return (req: RequestLike, res: ResponseLike, next: (err?: unknown) => void): void => {
    verifyRequest(verifier, req, options).then((identity) => {
      attach(req, identity, options);
      next();
    }, (error: unknown) => {
      const err = toGatehouseError(error);
      notifyRefused(options, err, req);
      sendError(res, err);
    });
  };
}

/**
 * Fastify `preHandler` (or `onRequest`) hook.
 * @example
 *   fastify.addHook('preHandler', gatehouseFastify(verifier));
 *   fastify.get('/me', async (request) => identityOf(request));
 */
export function gatehouseFastify(verifier: AssertionVerifier, options: MiddlewareOptions = {}) {
  return async (request: FastifyRequestLike & { gatehouse?: GatehouseIdentity }, reply: FastifyReplyLike): Promise<FastifyReplyLike | undefined> => {
    try {
      const identity = await verifyRequest(verifier, request, options);
      // Fastify's `request.headers` is normally `raw.headers`; both are cleaned in case not.
      dropUnsigned(request, options);
      if (request.raw) dropUnsigned(request.raw, options);
      if (identity !== undefined) {
        identities.set(request, identity);
        if (request.raw) identities.set(request.raw, identity);
        request.gatehouse = identity;
      }
      return undefined;
    } catch (error) {
      const err = toGatehouseError(error);
      notifyRefused(options, err, request);
      return reply.code(err.status).header('content-type', 'application/json').header('cache-control', 'no-store').send(errorBody(err));
    }
  };
}
