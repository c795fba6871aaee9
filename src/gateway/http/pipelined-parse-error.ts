/**
 * Whose failure is a parser error on a connection with requests in progress.
 *
 * Node's parser reads a keep-alive connection ahead of the answers: it emits every request it
 * completes and goes on with the bytes behind them, so it can fail on bytes that are not HTTP
 * (or a head it refuses) while requests before them are still being answered. Such a failure
 * belongs to those bytes, not to the complete requests before them: these get their answers,
 * and the bytes are refused after them (http/parser-refusal.ts), as a head refused on an idle
 * connection is. Only a request whose body the parser was still reading (a broken chunk, a body
 * cut short) is not complete: the failure is that request's own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's own markers: the connection's parser and the last request it began, the response being written. */
type NodeSocket = Duplex & {
  parser?: { incoming: IncomingMessage | null } | null;
  _httpMessage?: ServerResponse | null;
};

/**
 * The request whose body the parser was reading when it failed on `socket`, or undefined when
 * it failed on bytes behind complete requests. `incoming` is the last request whose head the
 * parser completed (a head it refuses never replaces it); Node clears it once that request is
 * answered and read.
 */
export function requestInBody(socket: Duplex): IncomingMessage | undefined {
  const incoming = (socket as NodeSocket).parser?.incoming;
  return incoming !== null && incoming !== undefined && !incoming.complete ? incoming : undefined;
}

/**
 * Calls `then` once no response is in progress on `socket`: the one being written and those
 * queued behind it (pipelined requests, each assigned the socket when the one before it
 * finishes) are all finished. Node's own end-of-response handling, attached when it made the
 * response, runs before this listener, so by then it has assigned the next queued response, or
 * ended the socket behind a response that closes the connection. A response cut short never
 * finishes, and `then` is not called (its socket is gone).
 */
export function whenAnswered(socket: Duplex, then: () => void): void {
  const current = (socket as NodeSocket)._httpMessage;
  if (current === null || current === undefined) then();
  else current.once('finish', () => whenAnswered(socket, then));
}
