/**
 * The path the upstream receives for a routed request: the upstream's base path, then the
 * normalized path (route prefix removed when the route strips it). One definition, used by
 * the forwarder and by per-request identity assertions (`htu`), so they cannot disagree.
 */
import type { RequestContext } from '../context.ts';
import { stripRoutePrefix } from '../router/router.ts';

/** Without the query string. */
export function upstreamPathOf(ctx: RequestContext): string {
  const pool = ctx.gen.upstreams.get(ctx.route!.upstreamName);
  return (pool?.basePath ?? '') + stripRoutePrefix(ctx.route!, ctx.path);
}
