import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './context.ts';

/**
 * One of Gatehouse's own HTTP endpoints served on the public listener (IdP, browser
 * login callback, assertion JWKS…). Requests under its prefixes get the accept and shield
 * stages (request id, limits, edge rate limit) and then go to `handle` instead of an upstream.
 */
export interface InternalHandler {
  readonly name: string;
  /** Path prefixes it owns, e.g. ['/oidc/', '/.well-known/openid-configuration']. */
  readonly prefixes: readonly string[];
  /**
   * Handles the request completely (writes the response). May throw a GatehouseError.
   * `ctx` carries what accept verified (request id, client address from trusted proxies).
   */
  handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void | Promise<void>;
}
