/**
 * The access record of a finished request, built straight from the request context in
 * the gateway's access sink. This path does not wait for the bus: the record is in the
 * spool (written to the OS) before the sink returns, so a killed process loses no
 * access event that the sink has seen.
 */
import { randomUUIDv7 } from 'node:crypto';
import type { RequestContext } from '../gateway/context.ts';
import { draftFromEnvelope } from './map-event.ts';
import type { AuditDraft } from './record.ts';
import type { Redactor } from './redact.ts';

/** Same payload as the `gateway.request` event, plus the actor kind and decision id the context knows. */
export function accessDraft(ctx: RequestContext, status: number, durationMs: number, instance: string, redactor: Redactor): AuditDraft {
  const payload: Record<string, unknown> = {
    requestId: ctx.requestId,
    traceId: ctx.trace?.traceId ?? '',
    method: ctx.method,
    path: ctx.path,
    status,
    durationMs: Math.round(durationMs * 1000) / 1000,
    clientAddress: ctx.clientAddress,
    stage: ctx.stage,
    bytesIn: ctx.bytesIn,
    bytesOut: ctx.bytesOut,
  };
  if (ctx.route) payload.routeId = ctx.route.id;
  if (ctx.identity) {
    payload.subject = ctx.identity.subject;
    payload.actorKind = ctx.identity.kind;
    payload.authMethod = ctx.identity.method;
  }
  if (ctx.error) payload.errorCode = ctx.error.code;
  if (ctx.upstreamStatus) payload.upstreamStatus = ctx.upstreamStatus;
  if (ctx.decisionId) payload.decisionId = ctx.decisionId;
  return draftFromEnvelope({ id: randomUUIDv7(), time: new Date().toISOString(), instance, name: 'gateway.request', payload }, redactor);
}
