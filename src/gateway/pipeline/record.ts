/**
 * The last word on every request, including early exits and clients that vanished:
 * one access log line, the metrics, and the `gateway.request` event for the audit log.
 * Called once per request from the response's 'close' event.
 */
import type { RequestContext } from '../context.ts';

export type AccessEventSink = (ctx: RequestContext, status: number, durationMs: number) => void;

export function recordRequest(ctx: RequestContext, sink: AccessEventSink | undefined): void {
  if (ctx.recorded) return;
  ctx.recorded = true;
  const durationMs = ctx.elapsedMs();
  const res = ctx.res;
  // A response cut off before it finished is reported as 499 (client closed) unless an error says otherwise.
  // `completing`: called right before the final write of a response that is being sent whole.
  const completed = ctx.completing || res.writableFinished;
  const status = ctx.upgraded ? ctx.upstreamStatus
    : ctx.error && !res.headersSent ? ctx.error.status
    : completed || res.headersSent ? res.statusCode : 499;
  const routeId = ctx.route?.id ?? (ctx.handled && !ctx.error ? 'internal' : 'none');
  const gen = ctx.gen;
  // No method: a head Node's parser refused (http/parser-refusal.ts), counted under `-`.
  gen.metrics.request(routeId, ctx.method || '-', status, durationMs / 1000);
  if (ctx.error) gen.metrics.error(routeId, ctx.error.code);
  if (gen.config.logging.accessLog) {
    gen.logger.info({
      type: 'access',
      requestId: ctx.requestId,
      traceId: ctx.trace?.traceId,
      route: routeId,
      method: ctx.method || undefined,
      host: ctx.host,
      path: ctx.path || undefined,
      status,
      durationMs: Math.round(durationMs * 1000) / 1000,
      client: ctx.clientAddress,
      peer: ctx.peerTrusted ? ctx.peerAddress : undefined,
      subject: ctx.identity?.subject,
      upstreamStatus: ctx.upstreamStatus || undefined,
      bytesIn: ctx.bytesIn,
      bytesOut: ctx.bytesOut,
      code: ctx.error?.code,
      stage: ctx.error ? ctx.stage : undefined,
      // The cause is for operators; it never reached the client.
      detail: ctx.error?.detail,
      decisionId: ctx.decisionId,
      aborted: !completed && !ctx.error && !ctx.upgraded ? true : undefined,
    }, 'request');
  }
  sink?.(ctx, status, durationMs);
}
