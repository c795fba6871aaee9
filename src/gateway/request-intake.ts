/**
 * Where the public listener's requests enter: each gets its context and runs the current
 * generation's pipeline; upgrade requests get a response object of their own first. Counts
 * the requests in flight and keeps the upgraded sockets, which shutdown must close itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerResponse as NodeServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { RequestContext } from './context.ts';
import type { Generation } from './generation.ts';
import { runPipeline } from './pipeline/run.ts';
import { CONTEXT, type RequestWithContext, type ResponseWithContext } from './response-context.ts';

/** What the intake reads of the gateway at every request. */
export interface IntakeHost {
  readonly generation: Generation;
  readonly draining: boolean;
}

export class RequestIntake {
  /** Sockets of upgrade requests (WebSocket tunnels once switched): Node's server no longer tracks them. */
  readonly upgradeSockets = new Set<Duplex>();
  readonly #host: IntakeHost;
  readonly #record: (ctx: RequestContext) => void;
  #inflight = 0;

  constructor(host: IntakeHost, record: (ctx: RequestContext) => void) {
    this.#host = host;
    this.#record = record;
  }

  get inflight(): number {
    return this.#inflight;
  }

  handle(req: IncomingMessage, res: ServerResponse, upgradeSocket: Duplex | undefined, upgradeHead?: Buffer): RequestContext {
    const ctx = new RequestContext(req, res, this.#host.generation);
    ctx.upgradeSocket = upgradeSocket;
    ctx.upgradeHead = upgradeHead;
    (res as ResponseWithContext)[CONTEXT] = ctx;
    if (res.socket === null) (req as RequestWithContext)[CONTEXT] = ctx;
    this.#inflight++;
    // One listener per request for everything that happens at close ('on', not 'once': the
    // once-wrapper costs an allocation and a removal per request; #closed guards repeats).
    res.on('close', () => this.#closed(ctx));
    if (this.#host.draining) res.shouldKeepAlive = false;
    runPipeline(ctx, ctx.gen.stages, ctx.gen.stageNames);
    return ctx;
  }

  #closed(ctx: RequestContext): void {
    if (ctx.closed) return;
    ctx.closed = true;
    this.#inflight--;
    this.#record(ctx);
    // After recording, so that a response cut short is recorded as such before the abort.
    ctx.exchange?.onClientClose();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer | undefined): void {
    // An upgrade (or CONNECT) pipelined behind a request whose response is still being written:
    // Node hands the socket over at once. It is handled in order, once that response is done;
    // assigning it a response now threw out of Node's parser callback (uncaught: the process
    // ended). If that response closes the connection, the upgrade's answer could never be sent.
    const pending = (socket as { _httpMessage?: (ServerResponse & { _last?: boolean }) | null })._httpMessage;
    if (pending) {
      this.upgradeSockets.add(socket);
      socket.once('close', () => this.upgradeSockets.delete(socket));
      pending.once('finish', () => {
        if (pending._last || !socket.writable) { socket.destroy(); return; }
        this.handleUpgrade(req, socket, head);
      });
      pending.once('close', () => { if (!pending.writableFinished) socket.destroy(); });
      return;
    }
    // Give the upgrade request a response object on its socket, so early exits use the
    // same error path as every other request.
    const res = new NodeServerResponse(req);
    res.shouldKeepAlive = false;
    this.upgradeSockets.add(socket);
    socket.once('close', () => this.upgradeSockets.delete(socket));
    res.assignSocket(socket as never);
    // handle runs the pipeline's synchronous stages at once: the head must be on the context before.
    const ctx = this.handle(req, res, socket, head !== undefined && head.length > 0 ? head : undefined);
    // An upgrade refused with an error response is over: close the socket behind it.
    res.once('finish', () => { if (!ctx.upgraded) socket.end(); });
  }
}
