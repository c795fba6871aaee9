/**
 * accept: who is at the other end and what did they send. Sets the request id first, so
 * that every later refusal carries it; believes forwarding headers only from trusted
 * proxies; refuses HTTP versions other than 1.0 and 1.1, ambiguous framing (request smuggling)
 * and too many header fields.
 */
import { GatehouseError } from '../../core/errors.ts';
import type { RequestContext } from '../context.ts';
import { resolveClientAddress, resolveProtocol } from '../http/client-address.ts';
import { checkFraming } from '../http/framing.ts';
import { unsupportedExpectation } from '../http/expect-continue.ts';
import { behindClosingResponse } from '../http/closing-connection.ts';
import { resolveRequestId } from '../http/request-id.ts';
import { normalizeHost, isValidHostHeader } from '../router/normalize-host.ts';
import { startTraceContext } from '../../observability/trace-context.ts';

export function accept(ctx: RequestContext): void {
  const { req, gen } = ctx;
  const headers = req.headers;
  const client = resolveClientAddress(req.socket.remoteAddress ?? '', headers['x-forwarded-for'], gen.isTrustedProxy);
  ctx.client = client;
  ctx.peerAddress = client.chain[client.chain.length - 1] ?? '';
  ctx.peerTrusted = client.peerTrusted;
  ctx.clientAddress = client.address;
  // Not set on the response here: a header set in advance sends every later writeHead down
  // Node's slow path (remove + validate + append per field). Each writer adds the id itself:
  // the forwarded response, error responses, the upgrade head, and `internal` for handlers.
  ctx.requestId = resolveRequestId(headers['x-request-id'], client.peerTrusted);
  // Trace ids are correlation data, not authority: a client's valid traceparent is continued
  // (so browser and backend spans join up); Gatehouse always opens its own span. New traces
  // are sampled at the exported-span ratio (0 without tracing); so is a continued trace whose
  // sampled flag is not followed (by default only a trusted proxy's is: any client could
  // otherwise force its requests into export, whatever the ratio).
  const follow = gen.traceClientSampledFlag;
  ctx.trace = startTraceContext(headers.traceparent, true, gen.traceSampleRatio, follow === 'follow' || (follow === 'trustedProxies' && client.peerTrusted));
  ctx.method = req.method ?? 'GET';
  // Only HTTP/1.0 and 1.1. Node's parser passes `HTTP/2.0`, `HTTP/0.9` and a request line with
  // no version (read as 0.9) on as requests, and the upstream request would be HTTP/1.1: another
  // protocol's bytes, or a client expecting another framing, read as HTTP/1.1 by both sides.
  // Before routing and every identity check; the connection closes (Node's answer to 2.0 and 0.9
  // says so already; the parser reads on behind a 2.0 request with Connection: keep-alive).
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor > 1) {
    ctx.res.shouldKeepAlive = false;
    throw new GatehouseError('ERR_REQUEST_HTTP_VERSION_UNSUPPORTED', { detail: `HTTP/${req.httpVersionMajor}.${req.httpVersionMinor}` });
  }
  // Its answer would never be sent, and after a framing refusal its bytes may be a smuggled request.
  if (behindClosingResponse(req, ctx.res)) throw new GatehouseError('ERR_REQUEST_MALFORMED', { detail: 'pipelined behind a response that closes the connection' });
  // Gatehouse is a reverse proxy: it opens no tunnels to hosts a client names.
  if (ctx.method === 'CONNECT') throw new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: `CONNECT ${req.url ?? ''}`.slice(0, 300) });
  // Only WebSocket is tunnelled, and only from a GET (RFC 6455 §4.1). Any other protocol,
  // h2c above all, would give the client a tunnel to the upstream in which it sends request
  // after request past routing and policy (h2c smuggling); a list could let the upstream pick
  // the other entry.
  if (ctx.upgradeSocket !== undefined && (ctx.method !== 'GET' || headers.upgrade?.trim().toLowerCase() !== 'websocket')) {
    throw new GatehouseError('ERR_REQUEST_MALFORMED', { detail: `Upgrade: ${String(headers.upgrade).slice(0, 100)} on ${ctx.method}`, publicMessage: 'Only WebSocket upgrades of GET requests are supported' });
  }
  ctx.protocol = resolveProtocol('https', headers['x-forwarded-proto'], client.peerTrusted);
  const host = headers.host ?? '';
  // A Host with userinfo, commas or quotes would be copied into X-Forwarded-Host: refuse it
  // here, before any identity work, instead of after authentication in enrich.
  if (!isValidHostHeader(host)) throw new GatehouseError('ERR_REQUEST_HEADER_INVALID', { detail: 'malformed Host header' });
  ctx.host = normalizeHost(host);

  const fields = req.rawHeaders.length >>> 1;
  if (fields > gen.config.limits.maxHeaderCount) {
    throw new GatehouseError('ERR_REQUEST_HEADERS_TOO_LARGE', { detail: `${fields} header fields, limit ${gen.config.limits.maxHeaderCount}` });
  }
  if (unsupportedExpectation(headers.expect)) throw new GatehouseError('ERR_REQUEST_EXPECTATION_FAILED', { detail: `Expect: ${headers.expect!.slice(0, 100)}` });
  checkFraming(req.rawHeaders, req.httpVersionMinor === 0 && req.httpVersionMajor === 1);
}
