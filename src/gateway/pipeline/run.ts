/**
 * Runs the stages in order. Synchronous stages cost no promise; an async stage resumes the
 * loop when it settles. Every failure, wherever it happens, goes through `failRequest`.
 */
import { toGatehouseError } from '../../core/errors.ts';
import type { RequestContext, Stage } from '../context.ts';
import { errorClosesConnection, writeErrorResponse } from '../respond-error.ts';
import { hstsFor } from '../http/strict-transport-security.ts';

/**
 * @param names `stages[i].name` for each stage, read once per generation: `Function#name` is
 *   an accessor, about 50 ns a read, once per stage and request otherwise.
 */
export function runPipeline(ctx: RequestContext, stages: readonly Stage[], names: readonly string[], start = 0): void {
  for (let i = start; i < stages.length; i++) {
    if (ctx.handled) return;
    const stage = stages[i]!;
    ctx.stage = names[i]!;
    let result: void | Promise<void>;
    try {
      result = stage(ctx);
    } catch (err) {
      failRequest(ctx, err);
      return;
    }
    if (result !== undefined) {
      result.then(() => runPipeline(ctx, stages, names, i + 1), (err: unknown) => failRequest(ctx, err));
      return;
    }
  }
}

/**
 * The one error path: remember the error for the record, answer with its public form. A
 * request refused before it was sent upstream that holds something to give back (an approval
 * it consumed: `ctx.undoIfRefused`) is answered once that is done, so that a client retrying
 * on the answer finds the approval back.
 */
export function failRequest(ctx: RequestContext, err: unknown): void {
  const error = toGatehouseError(err);
  ctx.error = error;
  ctx.handled = true;
  if (error.code === 'ERR_INTERNAL') ctx.gen.logger.error({ err, requestId: ctx.requestId, stage: ctx.stage }, 'unexpected error in pipeline');
  // Decided now, not when the answer is written: the audit log holds it until its record is
  // spooled (context.ts FinishHold), and requests the parser emits behind it meanwhile must
  // see that it closes the connection (http/closing-connection.ts), or they were forwarded.
  if (!ctx.res.headersSent && errorClosesConnection(ctx.res, error)) ctx.res.shouldKeepAlive = false;
  const undo = ctx.undoIfRefused;
  if (undo === undefined) {
    answerError(ctx);
    return;
  }
  ctx.undoIfRefused = undefined;
  // An undo reports its own failures; the answer goes out whatever became of it.
  undo(ctx, error).then(() => answerError(ctx), () => answerError(ctx));
}

/** Records the failed request (unless its response had started) and writes the answer `ctx.error` says. */
function answerError(ctx: RequestContext): void {
  if (!ctx.res.headersSent) {
    // Recorded before the answer leaves (see Generation.record).
    ctx.completing = true;
    ctx.gen.record(ctx);
  }
  const hold = ctx.finishHold;
  if (hold === undefined) writeError(ctx);
  else hold.defer(writeError);
}

/** The error path's final write (`ctx.error` is set), handed to a hold as it is (context.ts FinishHold). */
function writeError(ctx: RequestContext): void {
  writeErrorResponse(ctx.res, ctx.error!, ctx.requestId || '-', ctx.req.headers.accept, ctx.responseHeaders, hstsFor(ctx));
}
