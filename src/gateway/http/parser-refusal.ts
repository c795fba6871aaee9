/**
 * A request head that Node's HTTP parser refused before it became a request: a header section
 * over `maxHeaderBytes`, a framing conflict (Content-Length with Transfer-Encoding), an invalid
 * character, a head slower than `headersTimeoutMs`. It gets a request context and a response of
 * its own, so that it leaves through the error path of every other early exit
 * (pipeline/run.ts `failRequest`): one access line, the metrics, the `gateway.request` event
 * and its audit record, recorded before the answer is written (the audit extension holds the
 * answer until the record is in the spool, as for any error response).
 *
 * Only what is known is recorded: Node hands over no request line and no header of a refused
 * head, so method, host and path stay empty, the client address is the TCP peer's (a trusted
 * proxy's X-Forwarded-For was not read), the request id is a new one (X-Request-Id was not
 * read either) and the stage is {@link PARSE_STAGE}.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { RequestContext } from '../context.ts';
import type { Generation } from '../generation.ts';
import { startTraceContext } from '../../observability/trace-context.ts';
import { resolveClientAddress } from './client-address.ts';
import { generateRequestId } from './request-id.ts';

/** The `stage` of a request refused by Node's parser, before the first pipeline stage. */
export const PARSE_STAGE = 'parse';

/**
 * The context of a refused head on `socket`, whose response is assigned to the socket and
 * closes it once written. Only for a socket with no response in progress.
 */
export function parserRefusalContext(socket: Duplex, gen: Generation): RequestContext {
  const tcp = socket as Socket;
  const req = new IncomingMessage(tcp);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(tcp);
  // Node's end-of-response handling (which closes a `Connection: close` response's socket) is
  // attached only to the responses its parser made: this one closes its socket itself.
  res.once('finish', () => socket.end());
  const ctx = new RequestContext(req, res, gen);
  const client = resolveClientAddress(tcp.remoteAddress ?? '', undefined, gen.isTrustedProxy);
  ctx.client = client;
  ctx.peerAddress = client.address;
  ctx.peerTrusted = client.peerTrusted;
  ctx.clientAddress = client.address;
  ctx.requestId = generateRequestId();
  // A trace of its own (no traceparent was read), sampled like any new trace: its span is an early exit's.
  ctx.trace = startTraceContext(undefined, false, gen.traceSampleRatio);
  ctx.stage = PARSE_STAGE;
  return ctx;
}
