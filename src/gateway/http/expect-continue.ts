/**
 * `Expect: 100-continue`: the client sends its headers and waits for a 100 before sending
 * the body. The public listener handles such requests itself (its 'checkContinue' listener
 * is the request handler), so that Node does not send the 100 before any stage ran: a
 * client that is refused (401, 403, 413, 429…) is answered without having been invited to
 * upload its body, and Node closes the connection behind the unread body. The 100 goes out
 * here, once the body is about to be read: by the forwarder or by an internal handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The test Node applies before it emits 'checkContinue' (lib/_http_server.js). */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * True for an `Expect` field other than 100-continue (RFC 9110 §10.1.1: 417). Node sends its
 * own bare 417 for these unless the server listens to 'checkExpectation'; the public listener
 * does, so the refusal goes through the pipeline (request id, access line, metrics).
 */
export function unsupportedExpectation(expect: string | undefined): boolean {
  return expect !== undefined && !CONTINUE.test(expect);
}

/** Sends 100 Continue when the client waits for it; a no-op otherwise. Call once, before reading the body. */
export function continueBody(req: IncomingMessage, res: ServerResponse): void {
  const expect = req.headers.expect;
  if (expect === undefined || req.httpVersion !== '1.1' || !CONTINUE.test(expect) || res.headersSent) return;
  res.writeContinue();
}
