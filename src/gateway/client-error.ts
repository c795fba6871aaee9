/**
 * The public listener's `clientError`: a TLS handshake that failed, a head the parser refused,
 * or a parser failure behind or inside a request already being handled — each answered,
 * recorded or cut as the request it belongs to needs.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Generation } from './generation.ts';
import { parserRefusalContext, PARSE_STAGE } from './http/parser-refusal.ts';
import { requestInBody, whenAnswered } from './http/pipelined-parse-error.ts';
import { clientErrorOf, isHttpClientError } from './listeners.ts';
import { failRequest } from './pipeline/run.ts';
import type { RequestMetrics } from './request-metrics.ts';
import { CONTEXT, type RequestWithContext, type ResponseWithContext } from './response-context.ts';

export interface ClientErrorsOptions {
  /** The generation a refused head is answered under: the current one. */
  generation: () => Generation;
  requestMetrics: RequestMetrics;
  logger: Logger;
}

export class ClientErrors {
  readonly #options: ClientErrorsOptions;
  /** Held responses whose socket a parser error closes once they are written (rare, so a WeakSet). */
  #endAfterFinish = new WeakSet<ServerResponse>();
  /** Connections whose parser failed behind complete requests, refused once these are answered (rare, so a WeakSet). */
  #refuseWhenAnswered = new WeakSet<Duplex>();

  constructor(options: ClientErrorsOptions) {
    this.#options = options;
  }

  handle(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
    if (!isHttpClientError(err)) {
      // A TLS failure: no request, so no access line; counted and logged as what it is.
      socket.destroy();
      this.#options.requestMetrics.error('none', 'ERR_TLS_HANDSHAKE_FAILED');
      this.#options.logger.info({ type: 'tls', code: 'ERR_TLS_HANDSHAKE_FAILED', detail: `${err.code ?? ''} ${err.message}`, client: (socket as { remoteAddress?: string }).remoteAddress }, 'TLS handshake failed');
      return;
    }
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    const current = inFlight ? (inFlight as ResponseWithContext)[CONTEXT] : undefined;
    // A response Gatehouse did not make (none: RequestIntake.handle marks every one). No second
    // response may be assigned to its socket; Node's assignSocket would throw out of this listener.
    if (inFlight && current === undefined) { socket.destroy(); return; }
    // No request in flight: a head the parser refused. It is answered and recorded like any
    // early exit (one access line, metrics, the `gateway.request` event and its audit record,
    // the answer held until that record is spooled): see http/parser-refusal.ts.
    if (current === undefined) { this.#refuseHead(socket, err); return; }
    // Whose failure it is (http/pipelined-parse-error.ts): the request whose body the parser was
    // reading; a refused head's own answer in progress (a parser error repeats for every later
    // chunk of it); else bytes behind complete requests, which get their answers first.
    const body = requestInBody(socket);
    const ctx = body === undefined ? (current.stage === PARSE_STAGE ? current : undefined)
      : body === current.req ? current : (body as RequestWithContext)[CONTEXT];
    if (ctx === undefined) {
      if (body !== undefined) { socket.destroy(); return; }
      // Refused once no answer is in progress on the connection, and only if it is still open
      // then: behind an answer that closes it (the client's Connection: close, a refusal), the
      // bytes are not a request of this connection and nothing is answered.
      if (this.#refuseWhenAnswered.has(socket)) return;
      this.#refuseWhenAnswered.add(socket);
      whenAnswered(socket, () => {
        this.#refuseWhenAnswered.delete(socket);
        if (socket.writable) this.#refuseHead(socket, err);
      });
      return;
    }
    // A failure inside the body of a request already being handled (a broken chunk, a body
    // slower than requestTimeoutMs) is that request's outcome, recorded once, by the request:
    // answered with its own id through the one error path while its response has not started,
    // else cut (never a second response written inside one under way, as Node's own handler
    // guards). Answered here instead, it was counted twice and its raw 400 landed in the
    // middle of a streamed response body. A pipelined request's answer waits in Node's queue
    // behind the answers before it.
    // Recorded: its response is complete and being written; close behind it. A response
    // still held for its audit record (ctx.finishHold) has not been written yet: ended now,
    // the socket would take the held answer's bytes as a write after end and drop them (a
    // parser error repeats for every later chunk of a refused head, within the same turn).
    if (ctx.recorded) {
      if (ctx.finishHold === undefined && ctx === current) socket.end();
      else if (!this.#endAfterFinish.has(ctx.res)) {
        this.#endAfterFinish.add(ctx.res);
        ctx.res.once('finish', () => socket.end());
      }
      return;
    }
    // The client hung up in the middle of its body: the request records itself as cut short (499).
    if (err.code === 'HPE_INVALID_EOF_STATE') { socket.destroy(); return; }
    const error = clientErrorOf(err);
    if (ctx.handled) {
      // An internal handler owns this response: cut it, and let the record say why.
      ctx.error ??= error;
      socket.destroy();
      return;
    }
    ctx.exchange?.onClientClose();
    // The parser is done with this connection: the answer says so (it said keep-alive, and the
    // socket closed behind it all the same).
    ctx.res.shouldKeepAlive = false;
    failRequest(ctx, error);
  }

  /** Answers and records a head the parser refused, on a connection with no response in progress. */
  #refuseHead(socket: Duplex, err: NodeJS.ErrnoException): void {
    const refused = parserRefusalContext(socket, this.#options.generation());
    // Marked like a request's response: a second parser error or timeout on this socket finds
    // it in flight (recorded) and only closes behind it, instead of answering again.
    (refused.res as ResponseWithContext)[CONTEXT] = refused;
    failRequest(refused, clientErrorOf(err));
  }
}
