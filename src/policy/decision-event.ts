/**
 * Builds the payload of the `policy.decision` event (declared in src/core/events.ts): what
 * the audit log stores so that a decision id shown to a denied client can be resolved to
 * its reasons later, and its replayable inputs (replay-input.ts) so that a candidate policy
 * can be tried against it. Plain JSON, no secrets (never token contents, credential headers
 * or request bodies).
 */
import type { PolicyDecisionEvent, PolicyReplayInput } from '../core/events.ts';
import type { PolicyDecision } from './types.ts';

export type { PolicyDecisionEvent };

/** Builds the event payload for a decision, leaving out absent optional fields. */
export function policyDecisionEvent(d: PolicyDecision, extra: { requestId?: string; routeId?: string; input?: PolicyReplayInput } = {}): PolicyDecisionEvent {
  const event: PolicyDecisionEvent = {
    decisionId: d.id,
    allowed: d.allowed,
    basis: d.basis,
    reasons: [...d.reasons],
    errors: d.errors.map((e) => ({ policyId: e.policyId, message: e.message })),
    principal: d.principal,
    action: d.action,
    resource: d.resource,
    cached: d.cached,
  };
  if (extra.requestId !== undefined) event.requestId = extra.requestId;
  if (extra.routeId !== undefined) event.routeId = extra.routeId;
  if (d.policySet !== undefined) event.policySet = d.policySet;
  if (d.policySetVersion !== undefined) event.policySetVersion = d.policySetVersion;
  if (extra.input !== undefined) event.input = extra.input;
  return event;
}
