/**
 * internal: requests for Gatehouse's own endpoints (IdP, login callback, JWKS) end here;
 * they never reach the upstream stages.
 */
import type { RequestContext } from '../context.ts';
import { continueBody } from '../http/expect-continue.ts';
import { hstsFor } from '../http/strict-transport-security.ts';

export function internal(ctx: RequestContext): void | Promise<void> {
  const handler = ctx.internalHandler;
  if (!handler) return;
  ctx.handled = true;
  // Handlers write their own responses; the request id goes on them like on every other.
  ctx.res.setHeader('x-request-id', ctx.requestId);
  const hsts = hstsFor(ctx);
  if (hsts !== undefined) ctx.res.setHeader('strict-transport-security', hsts);
  const added = ctx.responseHeaders;
  if (added !== undefined) for (let i = 0; i < added.length; i += 2) ctx.res.setHeader(added[i]!, added[i + 1]!);
  // Handlers read request bodies (token, login forms): a client waiting for 100 Continue may send it.
  continueBody(ctx.req, ctx.res);
  return handler.handle(ctx.req, ctx.res, ctx);
}
