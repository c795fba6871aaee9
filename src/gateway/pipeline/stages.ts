/**
 * The request path, in its fixed and visible order. Components fill the optional slots
 * (see GatewayExtension); an empty slot is simply not in the list, so a route pays only
 * for the stages that exist.
 *
 *   accept → route → shield → [block address] → [edge rate limit] → routed → internal → [authenticate]
 *   → [block identity] → [step-up]
 *   → [authorize] → [approve] → [rate limit] → guard → [identity] → enrich → forward
 *   (record runs on every exit, from the response's close event)
 */
import type { Stage } from '../context.ts';
import type { StageSlot } from '../gateway.ts';
import { accept } from './accept.ts';
import { route } from './route.ts';
import { shield } from './shield.ts';
import { routed } from './routed.ts';
import { internal } from './internal.ts';
import { enrich } from './enrich.ts';
import { guard } from './guard.ts';
import { forward } from '../upstream/forward.ts';

export function defaultStages(slots: Partial<Record<StageSlot, Stage>>): Stage[] {
  const list: (Stage | undefined)[] = [
    accept,
    route,
    shield,
    slots.blockAddress,
    slots.edgeRateLimit,
    routed,
    internal,
    slots.authenticate,
    slots.blockIdentity,
    slots.stepUp,
    slots.authorize,
    slots.approve,
    slots.rateLimit,
    guard,
    slots.identity,
    enrich,
    forward,
  ];
  return list.filter((s): s is Stage => s !== undefined);
}
