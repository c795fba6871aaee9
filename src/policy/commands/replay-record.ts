/**
 * Reading recorded decisions back for replay (`policy diff`) and explanation (`policy
 * explain --decision`). One reader for every shape a recorded decision comes in:
 *
 *   - a replay line `{ "request": <AuthorizationRequest>, "decisionId"?, "allowed"? }`
 *     (written by `replayLine`, or by hand);
 *   - a `policy.decision` event payload (with its `input`), or a bus envelope carrying one;
 *   - an audit record of a `policy.decision` event, as stored (`AuditRecord`, `details` is
 *     JSON text) or as `gatehouse audit query` prints it (`details` parsed).
 *
 * Input is parsed, never cast: a line that is none of these is refused with the reason.
 */
import { z } from 'zod';
import type { PolicyDecisionEvent, PolicyReplayInput } from '../../core/events.ts';
import type { AuthorizationRequest, DecisionBasis, PolicyDecision } from '../types.ts';
import { authorizationRequestSchema, formatZodError, principalSchema, requestContextSchema, toAuthorizationRequest } from './shared.ts';

/** A recorded decision, ready to evaluate again. */
export interface ReplayRecord {
  request: AuthorizationRequest;
  decisionId?: string;
  /** The recorded answer, when known. */
  allowed?: boolean;
  /** What the recording kept (absent for hand-written replay lines: they are taken as complete). */
  recorded?: PolicyReplayInput['recorded'];
}

/** `noInput`: a valid decision recorded before inputs were (skipped by a replay, not an error). */
export type ReplayParse = { ok: true; record: ReplayRecord } | { ok: false; problem: string; noInput?: true };

const lineSchema = z.object({
  request: authorizationRequestSchema,
  decisionId: z.string().optional(),
  allowed: z.boolean().optional(),
}).strict();

const names = z.union([z.literal('all'), z.array(z.string())]);

const inputSchema = z.object({
  principal: principalSchema.extend({ attributes: z.record(z.string(), z.unknown()) }),
  action: z.string().min(1),
  resource: authorizationRequestSchema.shape.resource,
  context: requestContextSchema,
  now: z.number().int(),
  recorded: z.object({ attributes: names, context: names }).strict(),
}).strict();

const errorSchema = z.object({ policyId: z.string(), message: z.string() });

/** A `policy.decision` payload as far as replay and explanation need it (other keys pass). */
const eventSchema = z.object({
  decisionId: z.string().min(1),
  requestId: z.string().optional(),
  routeId: z.string().optional(),
  allowed: z.boolean(),
  basis: z.enum(['permit', 'forbid', 'forbid-error', 'no-permit', 'policy-set-missing']),
  policySet: z.string().optional(),
  policySetVersion: z.string().optional(),
  reasons: z.array(z.string()),
  errors: z.array(errorSchema),
  principal: z.string(),
  action: z.string(),
  resource: z.string(),
  cached: z.boolean(),
  input: inputSchema.optional(),
});

export type ParsedDecisionEvent = z.infer<typeof eventSchema>;

/** A recorded `policy.decision` in any of the shapes above, or a problem. */
export function parseDecisionEvent(source: unknown): { ok: true; event: ParsedDecisionEvent; time?: number } | { ok: false; problem: string } {
  if (typeof source !== 'object' || source === null) return { ok: false, problem: 'not a JSON object' };
  const o = source as Record<string, unknown>;
  let payload: unknown = source;
  let time: number | undefined;
  if ('event' in o && 'details' in o) {
    // An audit record (stored or printed).
    if (o.event !== 'policy.decision') return { ok: false, problem: `audit record of ${String(o.event)}, not policy.decision` };
    if (typeof o.details === 'string') {
      try {
        payload = JSON.parse(o.details);
      } catch {
        return { ok: false, problem: 'audit record details are not JSON' };
      }
    } else payload = o.details;
    time = typeof o.time === 'number' ? o.time : typeof o.time === 'string' ? Date.parse(o.time) : undefined;
  } else if ('name' in o && 'payload' in o) {
    if (o.name !== 'policy.decision') return { ok: false, problem: `event ${String(o.name)}, not policy.decision` };
    payload = o.payload;
  }
  const parsed = eventSchema.safeParse(payload);
  if (!parsed.success) return { ok: false, problem: `not a policy.decision record: ${formatZodError(parsed.error)}` };
  return { ok: true, event: parsed.data, ...(time !== undefined && Number.isFinite(time) ? { time } : {}) };
}

/**
 * Turns a recorded decision (any shape listed at the top of this file) into a replay record.
 * A `policy.decision` recorded without `input` (before inputs were recorded) cannot be
 * replayed and is refused with that reason.
 */
export function replayRecord(source: unknown): ReplayParse {
  if (typeof source === 'object' && source !== null && 'request' in source) {
    const parsed = lineSchema.safeParse(source);
    if (!parsed.success) return { ok: false, problem: formatZodError(parsed.error) };
    const record: ReplayRecord = { request: toAuthorizationRequest(parsed.data.request) };
    if (parsed.data.decisionId !== undefined) record.decisionId = parsed.data.decisionId;
    if (parsed.data.allowed !== undefined) record.allowed = parsed.data.allowed;
    return { ok: true, record };
  }
  const parsed = parseDecisionEvent(source);
  if (!parsed.ok) return parsed;
  const e = parsed.event;
  if (e.input === undefined) return { ok: false, problem: `decision ${e.decisionId} was recorded without its inputs; it cannot be replayed`, noInput: true };
  const i = e.input;
  const request = toAuthorizationRequest({
    ...(e.policySet === undefined ? {} : { policySet: e.policySet }),
    principal: { kind: i.principal.kind, id: i.principal.id, roles: i.principal.roles, attributes: i.principal.attributes as Record<string, never> },
    action: i.action,
    resource: i.resource,
    context: i.context,
    now: i.now,
  });
  return { ok: true, record: { request, decisionId: e.decisionId, allowed: e.allowed, recorded: i.recorded } };
}

/** One replay line from a decision and the request it answered (for files written by tools and tests). */
export function replayLine(decision: PolicyDecision, request: AuthorizationRequest): string {
  return JSON.stringify({ request: { ...request, now: request.now ?? decision.at }, decisionId: decision.id, allowed: decision.allowed });
}

/** The decision as the engine would have returned it, rebuilt from its event (for explanations). */
export function decisionFromEvent(e: ParsedDecisionEvent | PolicyDecisionEvent, at: number): PolicyDecision {
  return {
    id: e.decisionId,
    allowed: e.allowed,
    basis: e.basis as DecisionBasis,
    policySet: e.policySet,
    policySetVersion: e.policySetVersion,
    reasons: e.reasons,
    errors: e.errors,
    principal: e.principal,
    action: e.action,
    resource: e.resource,
    cached: e.cached,
    at: e.input?.now ?? at,
  };
}
