import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './context.ts';

/**
 * Each response's request, for a parser failure on its socket while it is in progress (see
 * client-error.ts). A property on the response, not a WeakMap: a WeakMap entry per request cost
 * ~15 µs of CPU per request under load (ephemeron work in every scavenge; bare-ab.ts A/B).
 */
export const CONTEXT = Symbol('gatehouse.requestContext');
export type ResponseWithContext = ServerResponse & { [CONTEXT]?: RequestContext };
/**
 * A pipelined request's response waits in Node's queue, out of reach, until the answers before
 * it are written: such a request carries its context itself, for a parser failure in its body.
 */
export type RequestWithContext = IncomingMessage & { [CONTEXT]?: RequestContext };
