/**
 * Holds a finishing response until its record's grouped spool write: what is already buffered
 * on the socket (the last body bytes, written this turn) stays corked, and the final write
 * (`res.end()`, which uncorks the socket fully) waits in `ctx.finishHold` until released.
 * A class rather than an object of closures: see FinishHold (context.ts) for what per-request
 * closures kept by held objects cost.
 */
import type { Socket } from 'node:net';
import type { Holdable } from './writer-types.ts';
import type { FinishHold, RequestContext } from '../gateway/context.ts';

export class HeldResponse implements Holdable, FinishHold {
  readonly #ctx: RequestContext;
  readonly #socket: Socket;
  #released = false;
  /** The final write (forward's end or the error page); a second one is not expected but kept. */
  #finish: ((ctx: RequestContext) => void) | undefined = undefined;
  #more: ((ctx: RequestContext) => void)[] | undefined = undefined;

  constructor(ctx: RequestContext, socket: Socket) {
    this.#ctx = ctx;
    this.#socket = socket;
  }

  cork(): void {
    this.#socket.cork();
    this.#ctx.finishHold = this;
  }

  defer(finish: (ctx: RequestContext) => void): void {
    if (this.#released) finish(this.#ctx);
    else if (this.#finish === undefined) this.#finish = finish;
    else (this.#more ??= []).push(finish);
  }

  /**
   * The final write is made while the socket is still corked, and the socket uncorked after:
   * `res.end()` uncorks fully itself, so the held bytes and the end leave in one write. Uncorked
   * first, the held bytes went out in one write and `end()` added a second, empty one, queued
   * behind the first (a TLS write completes later) and made when it completed: ~4 µs of the main
   * thread a request (CPU profiles, test/bench/bare-ab.ts). The uncork stays for a hold released
   * before its final write was deferred, and for a final write that throws.
   */
  uncork(): void {
    this.#released = true;
    const ctx = this.#ctx;
    ctx.finishHold = undefined;
    const finish = this.#finish;
    this.#finish = undefined;
    try {
      if (finish !== undefined) finish(ctx);
      if (this.#more !== undefined) for (const f of this.#more) f(ctx);
    } finally {
      this.#socket.uncork();
    }
  }
}
