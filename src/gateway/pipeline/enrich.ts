/**
 * enrich: the upstream request's headers, built in one pass: the client's headers minus
 * hop-by-hop fields and Gatehouse's reserved namespace, plus X-Forwarded-*, Forwarded,
 * the request id, traceparent, and whatever earlier stages put in ctx.upstreamHeaders
 * (identity assertion, injected credentials).
 */
import type { RequestContext } from '../context.ts';
import { buildUpstreamHeaders } from '../http/upstream-headers.ts';
import { validTracestate } from '../../observability/trace-context.ts';
import { withUpstreamCredentials } from '../upstream/credentials.ts';

export function enrich(ctx: RequestContext): void {
  const { req } = ctx;
  ctx.upstreamRequestHeaders = buildUpstreamHeaders(req.rawHeaders, {
    client: ctx.client!,
    protocol: ctx.protocol as 'http' | 'https',
    host: req.headers.host ?? '',
    requestId: ctx.requestId,
    traceparent: ctx.trace!.traceparent,
    tracestate: ctx.trace!.parentSpanId ? validTracestate(req.headers.tracestate) : undefined,
    // Only here, after every stage that may refuse: a refused request never carries the credential.
    extra: withUpstreamCredentials(ctx.upstreamHeaders, ctx.route === undefined ? undefined : ctx.gen.credentials.headers.get(ctx.route.upstreamName)),
    omit: ctx.omitUpstreamHeaders,
    judged: ctx.gen.config.policy.contextHeaders,
    maxHeaders: ctx.gen.config.limits.maxHeaderCount,
  });
}
