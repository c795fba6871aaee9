/**
 * The SERVER span of one request, built from the request context when the request is
 * recorded: no span object exists while the request runs, and no context manager is
 * involved. Its ids are the request's trace context (`ctx.trace`): the trace id of the
 * access log and audit record, the span id sent upstream in `traceparent` (so the
 * upstream's spans nest under it), the incoming `traceparent`'s parent id as parent.
 *
 * Attributes follow the stable HTTP server semantic conventions. Never recorded: header
 * values (but a truncated User-Agent), the query string, cookies, bodies, the error's
 * detail (it can quote what the client sent) and credential ids.
 */
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_NETWORK_PEER_ADDRESS, ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS, ATTR_URL_PATH, ATTR_URL_SCHEME, ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { RequestContext } from '../../gateway/context.ts';

type InstrumentationScope = ReadableSpan['instrumentationScope'];

/** Longest User-Agent kept: enough to tell clients apart, not a place to park data. */
export const MAX_USER_AGENT_LENGTH = 256;

/** Methods the semantic conventions name; any other is `_OTHER` (bounded cardinality). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
const ERROR: SpanStatus = { code: SpanStatusCode.ERROR };

/** Epoch milliseconds (a double) as OpenTelemetry's [seconds, nanoseconds]. */
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6))];
}

/** The exported span; a class so that every span has one shape and `spanContext` is shared. */
class RequestSpan implements ReadableSpan {
  readonly name: string;
  readonly kind = SpanKind.SERVER;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links = NO_LINKS;
  readonly events = NO_EVENTS;
  readonly ended = true;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;

  constructor(context: SpanContext, parent: SpanContext | undefined, name: string, startMs: number, durationMs: number, status: SpanStatus, attributes: Attributes, resource: Resource, scope: InstrumentationScope) {
    this.#context = context;
    this.parentSpanContext = parent;
    this.name = name;
    this.startTime = hrTime(startMs);
    this.endTime = hrTime(startMs + durationMs);
    this.duration = hrTime(durationMs);
    this.status = status;
    this.attributes = attributes;
    this.resource = resource;
    this.instrumentationScope = scope;
  }

  spanContext(): SpanContext { return this.#context; }
}

/**
 * The span of a finished request, or undefined when its trace is not sampled.
 *
 * @param status the status recorded in the access log (499: the client left first).
 * @param durationMs time from accept to the record, as in the access log.
 */
export function buildRequestSpan(ctx: RequestContext, status: number, durationMs: number, resource: Resource, scope: InstrumentationScope): ReadableSpan | undefined {
  const trace = ctx.trace;
  if (trace === undefined || !trace.sampled) return undefined;
  const method = KNOWN_METHODS.has(ctx.method) ? ctx.method : '_OTHER';
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_SCHEME]: ctx.protocol,
    [ATTR_CLIENT_ADDRESS]: ctx.clientAddress,
    'gatehouse.request_id': ctx.requestId,
  };
  // No method at all: a head Node's parser refused before its request line was handed over.
  if (method === '_OTHER' && ctx.method !== '') attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = ctx.method;
  // The normalized path, never req.url: the query string stays out of the span.
  if (ctx.path) attributes[ATTR_URL_PATH] = ctx.path;
  if (ctx.host) attributes[ATTR_SERVER_ADDRESS] = ctx.host;
  if (ctx.peerAddress && ctx.peerAddress !== ctx.clientAddress) attributes[ATTR_NETWORK_PEER_ADDRESS] = ctx.peerAddress;
  const version = ctx.req.httpVersion;
  if (version) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = version;
  const userAgent = ctx.req.headers['user-agent'];
  if (typeof userAgent === 'string' && userAgent) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent.length > MAX_USER_AGENT_LENGTH ? userAgent.slice(0, MAX_USER_AGENT_LENGTH) : userAgent;

  // Span names stay low-cardinality: the route id or the internal handler's name, never the path.
  let target: string | undefined;
  if (ctx.route) attributes['gatehouse.route.id'] = target = ctx.route.id;
  else if (ctx.internalHandler) attributes['gatehouse.handler'] = target = ctx.internalHandler.name;
  const verb = method === '_OTHER' ? 'HTTP' : method;
  const name = target === undefined ? verb : `${verb} ${target}`;

  const identity = ctx.identity;
  // The subject is an account, client or SPIFFE id, as in the access log; the credential
  // that carried it (session id, token id) is not recorded.
  if (identity) { attributes['enduser.id'] = identity.subject; attributes['gatehouse.auth.method'] = identity.method; }
  const error = ctx.error;
  if (error) { attributes['gatehouse.error.code'] = error.code; attributes['gatehouse.stage'] = ctx.stage; }
  if (ctx.bytesIn) attributes['http.request.body.size'] = ctx.bytesIn;
  if (ctx.bytesOut) attributes['http.response.body.size'] = ctx.bytesOut;

  // As record.ts: no response head left when the client went away first (499).
  const aborted = status === 499 && !ctx.res.headersSent && !ctx.completing && error === undefined;
  let spanStatus = UNSET;
  if (aborted) {
    attributes[ATTR_ERROR_TYPE] = 'aborted';
    spanStatus = ERROR;
  } else {
    attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
    // SERVER spans: 5xx is an error; a 4xx refusal is the server doing its job (status left
    // unset), told apart by gatehouse.error.code.
    if (status >= 500) {
      attributes[ATTR_ERROR_TYPE] = error ? error.code : String(status);
      spanStatus = ERROR;
    }
  }

  const context: SpanContext = { traceId: trace.traceId, spanId: trace.spanId, traceFlags: TraceFlags.SAMPLED };
  const parent: SpanContext | undefined = trace.parentSpanId === undefined ? undefined
    : { traceId: trace.traceId, spanId: trace.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
  return new RequestSpan(context, parent, name, performance.timeOrigin + ctx.startedAt, durationMs, spanStatus, attributes, resource, scope);
}
