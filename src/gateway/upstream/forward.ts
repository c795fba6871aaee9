/**
 * Forwards a request to its upstream through undici's dispatch API: the request body
 * streams to the upstream and the response streams back with backpressure in both
 * directions, without buffering. A client that goes away aborts the upstream request.
 *
 * The exchange is one object per request (not a set of closures, no promise) to keep the
 * hot path cheap: forward is the last stage, so it takes the response over and answers an
 * upstream failure itself through `failRequest`, the pipeline's one error path.
 */
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../../core/errors.ts';
import type { RefusalUndo, RequestContext } from '../context.ts';
import type { UpstreamPool } from './pools.ts';
import { upstreamError } from './upstream-error.ts';
import { responseHeaders } from './response-headers.ts';
import { upgradeResponseHead } from './websocket.ts';
import { upstreamPathOf } from './upstream-path.ts';
import { upstreamDeadlines, type DeadlineEntry } from './deadlines.ts';
import { failRequest } from '../pipeline/run.ts';
import { continueBody } from '../http/expect-continue.ts';
import { addTrailers, allowedTrailers } from './trailers.ts';
import { hstsFor } from '../http/strict-transport-security.ts';
import { dropReflectedCredentials } from './credentials.ts';
import { endAtTurnEnd } from '../http/turn-end.ts';

/** Both ends of a tunnel are sockets (net or TLS); the Duplex type does not say so. */
type TimedSocket = Duplex & { setTimeout?: (ms: number, onTimeout: () => void) => unknown };

/** Raised into the exchange when the client disconnects; never rendered (nobody is listening). */
export class ClientGoneError extends Error {
  constructor() { super('client closed the connection'); this.name = 'ClientGoneError'; }
}

/**
 * Credential isolation, response side: an upstream with credentials must not hand them back to
 * the client in a header, redirect, trailer or handshake (credentials.ts). Free for the others.
 */
function withoutReflectedCredentials(ctx: RequestContext, upstream: string, fields: IncomingHttpHeaders): void {
  const names = ctx.gen.credentials.headers.get(upstream);
  if (names !== undefined) dropReflectedCredentials(fields, names, ctx.gen.credentials.secretsByUpstream.get(upstream) ?? []);
}

/** The final write of a forwarded response, handed to a hold (context.ts FinishHold). */
function endResponse(ctx: RequestContext): void { ctx.res.end(); }

class UpstreamExchange implements Dispatcher.DispatchHandler, DeadlineEntry {
  readonly ctx: RequestContext;
  readonly upstream: UpstreamPool;
  controller: Dispatcher.DispatchController | undefined = undefined;
  /** The total timeout, on the shared coarse deadline list (see deadlines.ts for its granularity). */
  deadlineAt = 0;
  deadlineSlot = -1;
  settled = false;
  /** The client went away (or its request broke) before undici started the request. */
  clientGone = false;
  upgradeSocket: Duplex | undefined;
  /** Trailer names announced to the client (trailers.ts); undefined for almost every response. */
  trailers: Set<string> | undefined = undefined;
  /**
   * What a stage would give back if the request is refused unsent (an approval it used:
   * context.ts `undoIfRefused`), kept until undici starts writing it (`onRequestStart`). undici
   * calls that before the first byte goes to a socket, and a request aborted there is never
   * written; every failure before it (connect refused or timed out, a closed pool, arguments
   * undici refuses, the total timeout while waiting for a connection, a client that left) sent
   * nothing upstream.
   */
  undo: RefusalUndo | undefined = undefined;

  constructor(ctx: RequestContext, upstream: UpstreamPool, upgradeSocket: Duplex | undefined) {
    this.ctx = ctx;
    this.upstream = upstream;
    this.upgradeSocket = upgradeSocket;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone || this.ctx.res.destroyed || this.ctx.req.destroyed && !this.ctx.req.complete) {
      // Aborted before undici writes anything: nothing reached the upstream.
      this.giveBack();
      controller.abort(new ClientGoneError());
      return;
    }
    // From here bytes may reach the upstream, whatever fails next: what a stage did stays done (fail closed).
    this.undo = undefined;
  }

  /** Runs the undo now (nobody waits for an answer: the client is gone). */
  giveBack(): void {
    const undo = this.undo;
    if (undo === undefined) return;
    this.undo = undefined;
    // A RefusalUndo reports its own failures and never rejects.
    void undo(this.ctx, new GatehouseError('ERR_REQUEST_CLIENT_CLOSED', { detail: 'the client left before the request was sent upstream' }));
  }

  /** Hands the undo to the pipeline's error path, which answers once it is done (run.ts failRequest). */
  undoBeforeAnswer(): void {
    if (this.undo === undefined) return;
    this.ctx.undoIfRefused = this.undo;
    this.undo = undefined;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    const { ctx } = this;
    // undici hands interim 1xx heads here too; the response's own head is the final one.
    if (statusCode < 200) { relayInterim(ctx, statusCode, headers); return; }
    ctx.upstreamStatus = statusCode;
    ctx.gen.metrics.observeUpstream(this.upstream.name, ctx.elapsedMs());
    const res = ctx.res;
    if (res.destroyed) { controller.abort(new ClientGoneError()); return; }
    withoutReflectedCredentials(ctx, this.upstream.name, headers);
    const out = responseHeaders(headers, ctx.requestId, ctx.responseHeaders, statusCode, hstsFor(ctx));
    if (headers.trailer !== undefined) {
      this.trailers = allowedTrailers(headers, statusCode, ctx.method, ctx.req.httpVersion);
      if (this.trailers !== undefined) out.push('trailer', [...this.trailers].join(', '));
    }
    res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.ctx.bytesOut += chunk.length;
    if (!this.ctx.res.write(chunk)) {
      controller.pause();
      this.ctx.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers?: IncomingHttpHeaders): void {
    const { ctx } = this;
    if (this.trailers !== undefined) {
      if (trailers !== undefined) withoutReflectedCredentials(ctx, this.upstream.name, trailers);
      const refused = addTrailers(ctx.res, this.trailers, trailers);
      if (refused !== undefined) ctx.gen.logger.warn({ requestId: ctx.requestId, upstream: this.upstream.name, reason: refused }, 'upstream trailers dropped');
    }
    ctx.completing = true;
    ctx.gen.record(ctx);
    const hold = ctx.finishHold;
    if (hold === undefined) endAtTurnEnd(ctx);
    else hold.defer(endResponse);
    this.finish();
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, upstreamSocket: Duplex): void {
    const client = this.upgradeSocket!;
    this.ctx.upstreamStatus = statusCode;
    this.ctx.res.detachSocket(client as never);
    withoutReflectedCredentials(this.ctx, this.upstream.name, headers);
    client.write(upgradeResponseHead(statusCode, headers, this.ctx.requestId, this.ctx.responseHeaders, hstsFor(this.ctx)));
    // A client may send its first frames right behind the handshake, before the 101: Node
    // hands them over with the upgrade request; they are the tunnel's first bytes.
    if (this.ctx.upgradeHead !== undefined) upstreamSocket.write(this.ctx.upgradeHead);
    // From here on it is a byte tunnel; either side closing closes the other.
    upstreamSocket.pipe(client).pipe(upstreamSocket);
    const { ctx } = this;
    // The tunnel lives no longer than the credential that opened it (tunnels.ts).
    const unregister = ctx.gen.tunnels.add(
      { identity: ctx.identity, clientAddress: ctx.clientAddress, routeId: ctx.route!.id, requestId: ctx.requestId, clientSocket: client },
      (reason) => {
        ctx.gen.logger.info({ type: 'tunnel', requestId: ctx.requestId, route: ctx.route!.id, subject: ctx.identity?.subject, reason }, `WebSocket tunnel closed: ${reason}`);
        closeBoth();
      },
    );
    const closeBoth = () => { unregister(); upstreamSocket.destroy(); client.destroy(); };
    upstreamSocket.once('close', closeBoth);
    client.once('close', closeBoth);
    upstreamSocket.on('error', closeBoth);
    client.on('error', closeBoth);
    // A socket's timer restarts on every read and write, so the tunnel is idle only when
    // neither side has sent anything for tunnelIdleMs: then both are closed, so that
    // abandoned tunnels do not pile up to limits.maxConnections.
    const idleMs = this.ctx.route!.config.timeouts.tunnelIdleMs;
    const idle = () => {
      this.ctx.gen.logger.info({ type: 'tunnel', requestId: this.ctx.requestId, route: this.ctx.route!.id, idleMs }, 'WebSocket tunnel closed: idle');
      closeBoth();
    };
    (client as TimedSocket).setTimeout?.(idleMs, idle);
    (upstreamSocket as TimedSocket).setTimeout?.(idleMs, idle);
    this.ctx.upgraded = true;
    this.finish();
    // The exchange is recorded at the switch; the tunnel's lifetime is not a request's.
    this.ctx.res.emit('close');
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const { ctx } = this;
    // Answered already (the total timeout before undici started the request), or gone.
    if (this.settled) return;
    if (err instanceof ClientGoneError) { this.finish(); return; }
    const error = upstreamError(err, this.upstream.name);
    ctx.gen.metrics.upstreamFailed(this.upstream.name, error.code);
    if (ctx.res.headersSent) {
      // Mid-body failure: the status is gone; cut the response so it cannot look complete.
      ctx.error = error;
      ctx.res.destroy();
      this.finish();
      return;
    }
    this.settled = true;
    upstreamDeadlines.remove(this);
    // Failed before undici started writing it (connect refused, pool closed, …): nothing was sent.
    if (this.controller === undefined) this.undoBeforeAnswer();
    failRequest(ctx, error);
  }

  finish(): void {
    if (this.settled) return;
    this.settled = true;
    upstreamDeadlines.remove(this);
  }

  /** The total timeout: a method, not a closure per exchange. */
  onDeadline(): void {
    const error = new GatehouseError('ERR_GATEWAY_UPSTREAM_TIMEOUT', { detail: `upstream ${this.upstream.name}: total time ${this.ctx.route!.config.timeouts.totalMs} ms exceeded` });
    if (this.controller !== undefined) {
      this.controller.abort(error);
      return;
    }
    // Not started yet: the pool is still connecting (a connectMs beyond totalMs) or the request
    // waits for a free connection. undici gives no handle to abort with before it starts the
    // request, so the client is answered now and the request is aborted as soon as undici
    // starts it (onRequestStart), or its connect failure is ignored (onResponseError). Before,
    // the total timeout did nothing until a connection was there.
    this.clientGone = true;
    this.settled = true;
    this.ctx.gen.metrics.upstreamFailed(this.upstream.name, error.code);
    // onRequestStart will abort it unwritten: what was used for it is given back before the answer.
    this.undoBeforeAnswer();
    failRequest(this.ctx, error);
  }

  /**
   * Called by the gateway when the client's response closes, or when the client's request fails
   * under way (a broken chunked body). Before undici has started the request (the pool still
   * connecting) there is no controller yet: the exchange remembers it and `onRequestStart`
   * aborts. It had been lost, and the upstream kept a connection open, waiting for a body that
   * never came, until the route's `totalMs`.
   */
  onClientClose(): void {
    if (this.ctx.res.writableFinished || this.settled) return;
    if (this.controller === undefined) {
      this.clientGone = true;
      this.giveBack();
    } else this.controller.abort(new ClientGoneError());
  }
}

/**
 * An upstream's interim response: 103 Early Hints goes on to an HTTP/1.1 client with its
 * Link fields only (what a browser acts on; anything else in it, a Set-Cookie say, would
 * reach the client unchecked ahead of the final response). Other 1xx (102 Processing) say
 * nothing the client needs and are dropped, as is everything for HTTP/1.0 clients, which
 * must not get a 1xx (RFC 9110 §15.2).
 */
function relayInterim(ctx: RequestContext, statusCode: number, headers: IncomingHttpHeaders): void {
  const link = headers.link;
  if (statusCode !== 103 || link === undefined || ctx.req.httpVersion !== '1.1' || ctx.res.headersSent || ctx.res.destroyed) return;
  try {
    ctx.res.writeEarlyHints({ link });
  } catch {
    // Node refuses a Link value it cannot write safely; the hint is only an optimisation.
  }
}

/**
 * Bodies an earlier stage read in full because it had to judge them (the approve stage binds
 * an approval to the body's digest): exactly these bytes are sent, never the stream again. A
 * WeakMap entry exists only for such requests; every other request pays one failed lookup.
 */
const bufferedBodies = new WeakMap<RequestContext, Buffer>();

/** Makes the forward stage send `body` as this request's body (the client's stream is already read). */
export function forwardBufferedBody(ctx: RequestContext, body: Buffer): void {
  bufferedBodies.set(ctx, body);
}

/** Request body as undici should send it: the raw stream, or a counting one when the size is unknown. */
function requestBody(ctx: RequestContext): Dispatcher.DispatchOptions['body'] {
  const { req } = ctx;
  const buffered = bufferedBodies.get(ctx);
  if (buffered !== undefined) {
    ctx.bytesIn = buffered.length;
    return buffered.length === 0 ? null : buffered;
  }
  const length = req.headers['content-length'];
  if (length !== undefined) {
    ctx.bytesIn = Number(length);
    return ctx.bytesIn === 0 ? null : req;
  }
  if (req.headers['transfer-encoding'] === undefined) return null;
  const max = ctx.route!.maxBodyBytes;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      ctx.bytesIn += chunk.length;
      if (ctx.bytesIn > max) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE', { detail: `chunked body over ${max} bytes` });
      yield chunk;
    }
  }
  return counted() as unknown as Dispatcher.DispatchOptions['body'];
}


/**
 * The forward stage. It returns at once; the exchange then owns the response: it streams
 * the upstream's answer, or answers an upstream failure before any response was sent with
 * the matching GatehouseError (through `failRequest`), or cuts a response that failed midway.
 */
export function forward(ctx: RequestContext): void {
  const route = ctx.route!;
  const upstream = ctx.gen.upstreams.get(route.upstreamName);
  if (!upstream) throw new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', { detail: `no pool for upstream ${route.upstreamName}` });
  const upgrade = ctx.upgradeSocket !== undefined;
  const timeouts = route.config.timeouts;
  const exchange = new UpstreamExchange(ctx, upstream, ctx.upgradeSocket);
  const body = upgrade ? null : requestBody(ctx);
  // Every stage allowed the request: a client waiting for 100 Continue may send its body now
  // (a buffered body was read, and the 100 sent, by the stage that buffered it).
  if (body !== null && !Buffer.isBuffer(body)) continueBody(ctx.req, ctx.res);
  upstreamDeadlines.add(exchange, timeouts.totalMs);
  ctx.exchange = exchange;
  // The exchange keeps it until undici starts writing the request (onRequestStart); after that
  // nothing a stage did for this request is undone any more (a consumed approval stays spent).
  exchange.undo = ctx.undoIfRefused;
  ctx.undoIfRefused = undefined;
  try {
    // The pool whose connector times out connecting at this route's connectMs (pools.ts).
    (upstream.byConnectMs.get(timeouts.connectMs) ?? upstream.pool).dispatch({
      path: upstreamPathOf(ctx) + (ctx.query ? '?' + ctx.query : ''),
      method: ctx.method,
      headers: ctx.upstreamRequestHeaders ?? [],
      body,
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.idleMs,
      upgrade: upgrade ? 'websocket' : null,
    }, exchange);
  } catch (err) {
    // Refused before it started: the pipeline answers it (after the undo); nothing is left to time out.
    exchange.finish();
    exchange.undoBeforeAnswer();
    throw err;
  }
}
