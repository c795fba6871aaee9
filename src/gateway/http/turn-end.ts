/**
 * Forwarded responses that complete in one event-loop turn are finished together at its end
 * (`setImmediate`, after the turn's I/O callbacks): each one's socket is corked when its
 * upstream response ends — so its last body bytes, written this turn, stay buffered — and the
 * final write (`res.end()`, which uncorks fully) is made for all of them at once.
 *
 * Why: the main thread's time in `writev` (TLS records encrypted and written) was ~31 µs per
 * request when each response was ended at once and ~18 µs when the audit log's held responses
 * were released in groups (CPU profiles of the composed gateway, audit off against on). A
 * likely reason: on loopback a write also does the receiving side's work (waking the peer), and
 * a burst of writes wakes it less often. Measured with test/bench/bare-ab.ts (bare gateway
 * against the minimal Node proxy, 6 rounds, 100 connections): ×1.13 against ×0.98 before, in
 * the same run.
 * A response waits at most for the rest of the turn it completed in; at low load a turn holds
 * one response and nothing waits.
 *
 * The audit log holds responses the same way for its grouped spool write (src/audit/extension.ts
 * HeldResponse, through `ctx.finishHold`); forward hands a response here only when nothing
 * holds it.
 */
import type { RequestContext } from '../context.ts';

/** One array for the process, emptied at every flush (a fresh one per turn is garbage per turn). */
const ending: RequestContext[] = [];
let armed = false;

/** Finishes `ctx`'s response at the end of this turn; at once when it has no socket (nothing to cork). */
export function endAtTurnEnd(ctx: RequestContext): void {
  const socket = ctx.res.socket;
  if (socket === null) {
    ctx.res.end();
    return;
  }
  socket.cork();
  ending.push(ctx);
  if (!armed) {
    armed = true;
    setImmediate(flush);
  }
}

function flush(): void {
  armed = false;
  const count = ending.length;
  for (let i = 0; i < count; i++) {
    const ctx = ending[i]!;
    // Ended while still corked: end() uncorks fully itself, so the body and the end leave in
    // one write. Uncorked first, end() made a second, empty write behind the first (a TLS write
    // completes later, so it was queued and made then): ~4 µs of the main thread a request in
    // CPU profiles (test/bench/bare-ab.ts). The uncork stays for an end() that throws.
    const socket = ctx.res.socket;
    try {
      ctx.res.end();
    } catch (err) {
      // One response that cannot be finished (its socket gone) must not hold up the others.
      ctx.gen.logger.warn({ err, requestId: ctx.requestId }, 'a response could not be finished');
    } finally {
      socket?.uncork();
    }
  }
  // Nothing is added while the loop runs (end() emits its events later), but if it were, it stays for the next flush.
  ending.splice(0, count);
  if (ending.length > 0 && !armed) {
    armed = true;
    setImmediate(flush);
  }
}
