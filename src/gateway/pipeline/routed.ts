/**
 * routed: refuses what the route stage could not route (400 a request target it refuses, 404
 * unknown host or path, 405 method, 400 upgrade on a route without WebSocket). It runs after shield and the block and
 * edge-limit slots, so that requests for paths nobody serves meet the same blocks and limits
 * as any other (a route scan is counted; a blocked address is told it is blocked, not which
 * paths exist), and before internal handlers and any authentication work.
 */
import type { RequestContext } from '../context.ts';

export function routed(ctx: RequestContext): void {
  const refusal = ctx.routeRefusal;
  if (refusal === undefined) return;
  // Reported as the route stage's finding, which it is.
  ctx.stage = 'route';
  throw refusal;
}
