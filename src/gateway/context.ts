/**
 * The one object a request carries through the pipeline. Each stage fills in its own
 * fields and reads what earlier stages verified; none rewrites another stage's output.
 *
 * It is a class with every field declared up front so that V8 keeps one hidden class
 * for all requests (no shape changes on the hot path).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatehouseError } from '../core/errors.ts';
import type { CompiledRoute } from './router/types.ts';
import type { Generation } from './generation.ts';
import type { InternalHandler } from './internal-handler.ts';
import type { ClientAddress } from './http/client-address.ts';

/** W3C trace context of this request (the span Gatehouse opens for it). */
export interface TraceContext {
  traceId: string;
  /** Span id Gatehouse uses for the upstream call (parent of the upstream's spans). */
  spanId: string;
  /** Span id received from the client, if any. */
  parentSpanId: string | undefined;
  sampled: boolean;
  /** The `traceparent` header for the upstream request: this trace and Gatehouse's span. */
  traceparent: string;
}

/** Verified identity, set by the authenticate stage. */
export interface Identity {
  subject: string;
  kind: 'user' | 'service';
  roles: readonly string[];
  /** How this request was authenticated: 'session' | 'jwt' | 'api_token' | 'mtls' | 'dpop' … */
  method: string;
  /** RFC 8176 authentication method references of the underlying login, e.g. ['pwd', 'otp']. */
  amr: readonly string[];
  authTime: number | undefined;
  mfaTime: number | undefined;
  /** Session id, token id (jti) or API token id that carried the identity. */
  credentialId: string | undefined;
  issuer: string | undefined;
  attributes: Readonly<Record<string, unknown>>;
  /**
   * When the credential stops being valid, epoch milliseconds (a JWT's `exp`, a session's
   * absolute end, an API token's or client certificate's expiry); undefined when it has none.
   * A WebSocket tunnel it opened is closed then (upstream/tunnels.ts).
   */
  expiresAt?: number | undefined;
}

/**
 * What a completing response's final write waits on (see {@link RequestContext.finishHold}).
 * The final write is a module-level function of the context and the hold a class instance, not
 * closures made per request: with the hold as closures over the request stored in the context,
 * V8 moved ~5 KB of every request's objects to the old generation (`--trace-gc-nvp`: promoted
 * bytes; `--trace-pretenuring`: allocation sites switched to old-space allocation) and
 * scavenges cost ~13 µs per request; as now, ~0.1 KB and ~2 µs, as with the audit log off.
 */
export interface FinishHold {
  /** Makes `finish(ctx)` now if the hold is released, else when it is. */
  defer(finish: (ctx: RequestContext) => void): void;
}

/** Undoes what a stage did for a request that is refused before it is sent; must not reject (see {@link RequestContext.undoIfRefused}). */
export type RefusalUndo = (ctx: RequestContext, error: GatehouseError) => Promise<void>;

export class RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Configuration and compiled state this request started on; a reload does not change it. */
  readonly gen: Generation;
  /** performance.now() at accept (a double: no BigInt allocated per request). */
  readonly startedAt: number;

  requestId = '';
  trace: TraceContext | undefined = undefined;
  /** Client address after applying trusted proxies. */
  clientAddress = '';
  /** The resolved address chain (client first, TCP peer last), for X-Forwarded-For. */
  client: ClientAddress | undefined = undefined;
  /** Address of the TCP peer (a proxy or the client). */
  peerAddress = '';
  peerTrusted = false;
  /** 'https' | 'http' as seen by the client. */
  protocol = 'https';
  /** Host name the client asked for, lower-case, without port. */
  host = '';
  method = '';
  /** Normalized path (decoded once, dot segments resolved); the path that is routed and forwarded. */
  path = '';
  /** Raw query string without '?', forwarded unchanged. */
  query = '';

  route: CompiledRoute | undefined = undefined;
  /** Set by the route stage when one of Gatehouse's own endpoints owns the path. */
  internalHandler: InternalHandler | undefined = undefined;
  /** What the route stage found wrong (no route, method or upgrade refused), thrown by `routed` after the edge checks. */
  routeRefusal: GatehouseError | undefined = undefined;
  identity: Identity | undefined = undefined;
  /** Decision id from the authorize stage, for audit and for "why was I denied". */
  decisionId: string | undefined = undefined;
  /** Set to true only by the authorize stage on an allow decision; the guard stage checks it. */
  authorized = false;
  /** The second person's approval this request consumed (approve stage); signed into the upstream's assertion. */
  approval: { id: string; approver: string } | undefined = undefined;
  /**
   * What a refusal must undo while nothing of the request has been sent upstream: the approve
   * stage gives back the approval it consumed. The error path (run.ts `failRequest`) calls it
   * and answers once it settles; the forward stage clears it as it hands the request to the
   * upstream pool, after which nothing is undone (fail closed: bytes may have reached it).
   * Undefined for every request that consumed nothing, which then pays nothing.
   */
  undoIfRefused: RefusalUndo | undefined = undefined;

  /** Headers Gatehouse adds to the upstream request (identity assertion, credentials…). */
  readonly upstreamHeaders: Record<string, string> = {};
  /** Client header names (lower-case) that must not reach the upstream, e.g. the credential that was consumed. */
  omitUpstreamHeaders: ReadonlySet<string> | undefined = undefined;
  /** The final upstream request header list, built by the enrich stage for the forward stage. */
  upstreamRequestHeaders: string[] | undefined = undefined;
  /**
   * Response headers stages add for the client (RateLimit…), as a flat [name, value, …] list.
   * Whoever writes the response head writes them with it (forward, the error path, the
   * upgrade head, the internal stage): a header set on the response in advance would send
   * every writeHead down Node's slow path.
   */
  responseHeaders: string[] | undefined = undefined;
  /** Set when an internal handler (IdP, auth callback, JWKS) took over the response. */
  handled = false;
  /** Response body bytes sent to the client. */
  bytesOut = 0;
  /** The client socket of a WebSocket upgrade request (undefined for ordinary requests). */
  upgradeSocket: Duplex | undefined = undefined;
  /** Bytes the client sent after the upgrade request's head, before any answer: the tunnel's first. */
  upgradeHead: Buffer | undefined = undefined;
  /** True once a WebSocket upgrade switched protocols and the connection became a tunnel. */
  upgraded = false;
  /** Upstream response status, when one was received. */
  upstreamStatus = 0;
  /** Set when the request ended in an error response. */
  error: GatehouseError | undefined = undefined;
  /** Name of the stage that is running or that ended the request. */
  stage = 'accept';
  /** Set once the response is finished and recorded, so recording happens exactly once. */
  recorded = false;
  /** Set just before the final write of a complete response (recorded as completed). */
  completing = false;
  /**
   * Set while recording a completing response by an access sink that must have the record
   * written before the response's last bytes leave, but writes it later in the turn (the
   * audit's grouped spool write): forward and the error path hand it their final write
   * instead of making it now. `res.end()` uncorks the socket whatever corked it, so it is the
   * final write itself that has to wait.
   */
  finishHold: FinishHold | undefined = undefined;
  /** Bytes received from the client in the request body. */
  bytesIn = 0;
  /** The upstream exchange in progress, told when the client's response closes (forward sets it). */
  exchange: { onClientClose(): void } | undefined = undefined;
  /** Set by the gateway when the response's 'close' event was handled (it can be emitted twice on upgrades). */
  closed = false;

  constructor(req: IncomingMessage, res: ServerResponse, gen: Generation) {
    this.req = req;
    this.res = res;
    this.gen = gen;
    this.startedAt = performance.now();
  }

  /** Adds a header to the response this request will get, whoever writes it (see responseHeaders). */
  addResponseHeader(name: string, value: string): void {
    if (this.responseHeaders === undefined) this.responseHeaders = [name, value];
    else this.responseHeaders.push(name, value);
  }

  /** Milliseconds since accept. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }
}

/**
 * A pipeline stage: a small named function. It returns nothing when it finished
 * synchronously, or a promise; it throws a GatehouseError to end the request early.
 * The function's name is the stage's name in logs, metrics and audit events.
 */
export type Stage = (ctx: RequestContext) => void | Promise<void>;
