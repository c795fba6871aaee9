/**
 * Reads the scope of a policy (the `principal, action, resource` head) to decide which
 * requests it can possibly apply to, so that a decision evaluates only those policies.
 *
 * Cedar checks the scope before the conditions and `&&` short-circuits, so a policy whose
 * scope is false for a request is neither satisfied nor able to raise an error: leaving it
 * out changes nothing in the decision, its reasons or its errors. This module must
 * therefore only ever say "cannot apply" when that is certain given the entity model of
 * entities.ts:
 *
 *   - the resource is always `Gatehouse::Route::"<routeId>"`, whose only parents are its
 *     route groups and its upstream (those have no parents of their own);
 *   - the action is `Gatehouse::Action::"<action>"`, in its method (for a named operation),
 *     in `read` or `write`.
 *
 * Anything it does not recognise is classified as "may apply to every request".
 */
import type { EntityUidJson, PolicyJson } from './cedar.ts';
import { TYPE_ACTION, TYPE_ROUTE, TYPE_ROUTE_GROUP, TYPE_UPSTREAM } from './entities.ts';

/**
 * Which resources a policy can apply to: every resource (`any`), resources in one bucket
 * (`route:<id>`, `group:<id>`, `upstream:<id>`), or none at all (`never`).
 */
export type ResourceApplicability = 'any' | 'never' | { bucket: string };

/** Which actions a policy can apply to: every action, none, or those with one of these action ids among their ancestors (or themselves). */
export type ActionApplicability = 'any' | 'never' | { actions: readonly string[] };

export interface PolicyApplicability {
  resource: ResourceApplicability;
  action: ActionApplicability;
}

/** Bucket names a request's resource belongs to. */
export const routeBucket = (routeId: string): string => `route:${routeId}`;
export const groupBucket = (group: string): string => `group:${group}`;
export const upstreamBucket = (upstream: string): string => `upstream:${upstream}`;

function uidOf(e: EntityUidJson): { type: string; id: string } {
  return '__entity' in e ? e.__entity : e;
}

/** The bucket of resources that are `in` (or equal to) this entity; 'never' for an entity no route can be in. */
function inBucket(target: EntityUidJson): ResourceApplicability {
  const { type, id } = uidOf(target);
  if (type === TYPE_ROUTE) return { bucket: routeBucket(id) };
  if (type === TYPE_ROUTE_GROUP) return { bucket: groupBucket(id) };
  if (type === TYPE_UPSTREAM) return { bucket: upstreamBucket(id) };
  return 'never';
}

function resourceApplicability(c: PolicyJson['resource']): ResourceApplicability {
  switch (c.op) {
    case '==': {
      if (!('entity' in c)) return 'any'; // a template slot: not supported, stay conservative
      const { type, id } = uidOf(c.entity);
      return type === TYPE_ROUTE ? { bucket: routeBucket(id) } : 'never';
    }
    case 'in':
      return 'entity' in c ? inBucket(c.entity) : 'any';
    case 'is': {
      if (c.entity_type !== TYPE_ROUTE) return 'never';
      if (c.in === undefined || !('entity' in c.in)) return 'any';
      return inBucket(c.in.entity);
    }
    default:
      return 'any';
  }
}

function actionApplicability(c: PolicyJson['action']): ActionApplicability {
  switch (c.op) {
    case '==': {
      if (!('entity' in c)) return 'any';
      const { type, id } = uidOf(c.entity);
      return type === TYPE_ACTION ? { actions: [id] } : 'never';
    }
    case 'in': {
      const targets = 'entity' in c ? [c.entity] : 'entities' in c ? c.entities : undefined;
      if (targets === undefined) return 'any';
      const ids = targets.map(uidOf).filter((u) => u.type === TYPE_ACTION).map((u) => u.id);
      return ids.length === 0 ? 'never' : { actions: [...new Set(ids)] };
    }
    default:
      return 'any';
  }
}

/** What a policy's scope says about the requests it can apply to. */
export function policyApplicability(policy: PolicyJson): PolicyApplicability {
  return { resource: resourceApplicability(policy.resource), action: actionApplicability(policy.action) };
}
