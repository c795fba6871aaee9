/**
 * shield: cheap refusals before any identity work — declared body too large and the
 * edge checks that other components register (IP rules, blocks, edge rate limit).
 */
import { GatehouseError } from '../../core/errors.ts';
import type { RequestContext } from '../context.ts';

export function shield(ctx: RequestContext): void {
  const length = ctx.req.headers['content-length'];
  if (length !== undefined) {
    const max = ctx.route ? ctx.route.maxBodyBytes : ctx.gen.config.limits.maxBodyBytes;
    if (Number(length) > max) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE', { detail: `content-length ${length} over ${max}` });
  }
}
