/**
 * The header list of the upstream request, built in one pass over `req.rawHeaders`.
 *
 * Removed from what the client (or its proxy) sent:
 * - hop-by-hop headers (RFC 9110 §7.6.1) and every header the `Connection` field names
 *   (except `TE: trailers`, kept as HTTP/2 and gRPC need it, as Envoy does);
 *   `Proxy-*`; `Host` (undici sets the upstream's; the original goes in X-Forwarded-Host);
 *   `Expect` (Gatehouse answers 100-continue itself, see expect-continue.ts); HTTP/2 pseudo-headers;
 * - Gatehouse's reserved namespace `x-gatehouse-*`, always, from anyone: identity headers
 *   reach an upstream only when Gatehouse itself sets them;
 * - the headers Gatehouse sets itself: X-Forwarded-For/-Proto/-Host, Forwarded,
 *   X-Request-Id, traceparent, tracestate (from a trusted peer their content was already
 *   taken into account by client-address, request-id and trace-context);
 * - from an untrusted peer also every other `x-forwarded-*` and X-Real-IP;
 * - `X-Original-URL` and `X-Rewrite-URL`, with which some frameworks (older Symfony and Zend,
 *   IIS rewrite setups) route by another path than the request line's, past the one path
 *   Gatehouse normalized and matched (docs/path-normalization.md);
 * - the identity headers other authenticating proxies set for their upstreams (`Remote-User`,
 *   oauth2-proxy's `X-Auth-Request-*`, client-certificate fields such as `X-SSL-Client-*`,
 *   `X-Client-Cert`, AWS ALB's `X-Amzn-Oidc-*`, IAP's `X-Goog-Authenticated-User-*`, Azure's
 *   `X-MS-Client-Principal*`, Cloudflare Access's `Cf-Access-*`, `X-WebAuth-*`), from anyone:
 *   an upstream moved behind Gatehouse from such a proxy may still trust them, and Gatehouse
 *   sets its own (signed) identity instead; `Gatehouse-Approval`, which is for Gatehouse;
 * - any header the caller sets in `extra` or lists in `omit`;
 * - each of these also in its underscore spelling (`x_gatehouse_subject`, `x_api_key`), which
 *   CGI-style servers read as the dashed one; so too the underscore spellings of the headers
 *   whose dashed value a stage decided on and forwards: the method-override headers
 *   (effective-methods.ts) and the policy's context headers (`judged`). Otherwise
 *   `X_HTTP_METHOD_OVERRIDE: DELETE` would reach PHP as the override that authorization never saw.
 *
 * Then appended: X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Forwarded
 * (RFC 7239), X-Request-Id, traceparent, tracestate, then `extra`.
 *
 * The result is a flat `[name, value, name, value, …]` array with lower-case names, the
 * form undici's `dispatch` takes as is and `RequestContext.upstreamRequestHeaders` holds.
 * Flat keeps repeated fields without merging them into arrays and needs no object with
 * request-chosen keys. Measured (building the list + undici's own `Request` processing
 * of it, a 14-header browser request): flat and object forms cost the same within
 * noise; the choice rests on simplicity, not on speed.
 */
import { GatehouseError } from '../../core/errors.ts';
import type { ClientAddress } from './client-address.ts';
import { isValidHostHeader } from '../router/normalize-host.ts';
import { METHOD_OVERRIDE_HEADERS } from './effective-methods.ts';

export interface UpstreamHeaderOptions {
  /** From `resolveClientAddress`. */
  client: ClientAddress;
  /** Protocol the client used (`resolveProtocol`). */
  protocol: 'http' | 'https';
  /**
   * The Host header as received (for X-Forwarded-Host and Forwarded `host=`); '' when
   * absent. Must pass `isValidHostHeader`, else ERR_REQUEST_HEADER_INVALID.
   */
  host: string;
  requestId: string;
  traceparent: string;
  /** Only when it came with an accepted traceparent (`validTracestate`). */
  tracestate?: string | undefined;
  /** Headers Gatehouse adds (identity assertion, injected credentials); lower-case names. */
  extra?: Readonly<Record<string, string>> | undefined;
  /** Further lower-case names to remove from the client's headers (e.g. `authorization`). */
  omit?: ReadonlySet<string> | undefined;
  /**
   * Lower-case names whose values a stage decided on and which are forwarded as they are
   * (`policy.contextHeaders`): their underscore spellings are removed.
   */
  judged?: readonly string[] | undefined;
  /** Most header fields accepted from the client (`limits.maxHeaderCount`). */
  maxHeaders: number;
}

const DROP = 1;
const DROP_UNLESS_TRUSTED = 2;
const CONNECTION = 3;
const COOKIE = 4;
const TE = 5;

const SPECIAL = new Map<string, number>([
  ['connection', CONNECTION], ['keep-alive', DROP], ['proxy-connection', DROP], ['te', TE],
  ['transfer-encoding', DROP], ['upgrade', DROP], ['trailer', DROP], ['http2-settings', DROP],
  ['host', DROP], ['expect', DROP],
  ['x-forwarded-for', DROP], ['x-forwarded-proto', DROP], ['x-forwarded-host', DROP], ['forwarded', DROP],
  ['x-request-id', DROP], ['traceparent', DROP], ['tracestate', DROP],
  ['x-real-ip', DROP_UNLESS_TRUSTED],
  ['x-original-url', DROP], ['x-rewrite-url', DROP],
  // Another proxy's identity, claimed by a client (the prefixes are in classify).
  ['x-remote-user', DROP], ['x-client-cert', DROP], ['x-client-verify', DROP], ['x-client-dn', DROP],
  ['x-arr-clientcert', DROP], ['x-goog-iap-jwt-assertion', DROP], ['gatehouse-approval', DROP],
  ['cookie', COOKIE],
]);

/** C0 controls except HTAB, and DEL: CR/LF split headers, NUL truncates them. */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const TCHAR_VALUE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `x-` prefixes of other proxies' identity headers (Authelia's `Remote-*`, `SSL-Client-*` and `Cf-Access-*` are checked beside them). */
const FOREIGN_IDENTITY_X = ['x-auth-request-', 'x-ssl-client-', 'x-amzn-oidc-', 'x-amzn-mtls-', 'x-goog-authenticated-user-', 'x-ms-client-principal', 'x-webauth-'];

function classify(lower: string): number {
  const special = SPECIAL.get(lower);
  if (special !== undefined) return special;
  const c = lower.charCodeAt(0);
  if (c === 0x3a) return DROP; // HTTP/2 pseudo-header
  if (c === 0x70 && lower.startsWith('proxy-')) return DROP;
  if (c === 0x78) {
    if (lower.startsWith('x-gatehouse-')) return DROP;
    if (lower.startsWith('x-forwarded-')) return DROP_UNLESS_TRUSTED;
    if (FOREIGN_IDENTITY_X.some((p) => lower.startsWith(p))) return DROP;
  }
  if ((c === 0x72 && lower.startsWith('remote-')) || (c === 0x73 && lower.startsWith('ssl-client-')) || (c === 0x63 && lower.startsWith('cf-access-'))) return DROP;
  return 0;
}

function invalidValue(name: string, fromGatehouse: boolean): GatehouseError {
  return new GatehouseError('ERR_REQUEST_HEADER_INVALID', {
    detail: `${fromGatehouse ? 'gatehouse-added ' : ''}header ${name} contains a control character (CR, LF, NUL…)`,
  });
}

/** An RFC 7239 node: IPv4 as a token, IPv6 bracketed and quoted, `unknown` when the socket had none. */
function forwardedNode(address: string): string {
  if (address === '') return 'unknown';
  return address.includes(':') ? `"[${address}]"` : address;
}

/** An RFC 7239 value: a token when possible, else a quoted-string. */
function forwardedValue(value: string): string {
  return TCHAR_VALUE.test(value) ? value : `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * The last Host seen and its Forwarded `host=` parameter: clients send the same few hosts,
 * so the validation and quoting run once per distinct value, not once per request.
 */
let lastHost = '';
let lastHostParameter = '';

function hostParameter(host: string): string {
  if (host === lastHost) return lastHostParameter;
  if (!isValidHostHeader(host)) throw new GatehouseError('ERR_REQUEST_HEADER_INVALID', { detail: 'Host is not a plain host[:port]' });
  lastHostParameter = `;host=${forwardedValue(host)}`;
  lastHost = host;
  return lastHostParameter;
}

/**
 * The last one-hop Forwarded value (an untrusted or direct peer) and what it was made from:
 * a connection sends many requests from the same peer to the same host, so the value is
 * built once per distinct peer, host and protocol in a row, not once per request.
 */
let lastPeer = '';
let lastHostPart = '';
let lastProtocol = '';
let lastForwarded = '';

function forwardedValueOf(chain: readonly string[], hostPart: string, protocol: string): string {
  if (chain.length === 1) {
    const peer = chain[0]!;
    if (peer === lastPeer && hostPart === lastHostPart && protocol === lastProtocol && lastForwarded !== '') return lastForwarded;
    lastForwarded = `for=${forwardedNode(peer)}${hostPart};proto=${protocol}`;
    lastPeer = peer;
    lastHostPart = hostPart;
    lastProtocol = protocol;
    return lastForwarded;
  }
  let forwarded = '';
  for (let i = 0; i < chain.length - 1; i++) forwarded += `for=${forwardedNode(chain[i]!)}, `;
  return `${forwarded}for=${forwardedNode(chain[chain.length - 1]!)}${hostPart};proto=${protocol}`;
}

/**
 * Builds the upstream request headers.
 *
 * @throws GatehouseError `ERR_REQUEST_HEADERS_TOO_LARGE` (431) for more than `maxHeaders`
 *   fields; `ERR_REQUEST_HEADER_INVALID` for a control character in any value or an
 *   invalid `host`.
 * @example
 *   ctx.upstreamRequestHeaders = buildUpstreamHeaders(req.rawHeaders, {
 *     client, protocol: ctx.protocol, host: req.headers.host ?? '', requestId: ctx.requestId,
 *     traceparent: ctx.trace.traceparent, extra: ctx.upstreamHeaders, maxHeaders: 100 });
 */
export function buildUpstreamHeaders(rawHeaders: readonly string[], options: UpstreamHeaderOptions): string[] {
  const count = rawHeaders.length >>> 1;
  if (count > options.maxHeaders) {
    throw new GatehouseError('ERR_REQUEST_HEADERS_TOO_LARGE', { detail: `${count} header fields, limit ${options.maxHeaders}` });
  }
  const { client, extra, omit } = options;
  const trusted = client.peerTrusted;
  const out: string[] = [];
  let nominated: string[] | undefined;
  let cookieAt = -1;

  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (BAD_VALUE.test(value)) throw invalidValue(name, false);
    let kind = classify(name);
    if (kind === 0 && name.includes('_')) {
      // CGI-style servers (WSGI, Rack, PHP, and frameworks on them) read `x_gatehouse_subject`
      // as the same HTTP_X_GATEHOUSE_SUBJECT as `x-gatehouse-subject`: a name whose dashed
      // spelling would be dropped or replaced is dropped in its underscore spelling too.
      const dashed = name.replaceAll('_', '-');
      const alias = classify(dashed);
      if (alias === DROP_UNLESS_TRUSTED) kind = DROP_UNLESS_TRUSTED;
      else if (alias !== 0 || omit?.has(dashed) === true || (extra !== undefined && Object.hasOwn(extra, dashed))
        || METHOD_OVERRIDE_HEADERS.includes(dashed) || options.judged?.includes(dashed) === true) continue;
    }
    if (kind === DROP || (kind === DROP_UNLESS_TRUSTED && !trusted)) continue;
    if (kind === CONNECTION) {
      for (const token of value.split(',')) {
        const option = token.trim().toLowerCase();
        if (option !== '' && option !== 'close' && option !== 'keep-alive') (nominated ??= []).push(option);
      }
      continue;
    }
    // `te: trailers` is the one TE value an end-to-end protocol needs (gRPC refuses requests
    // without it); any other TE is hop-by-hop and goes.
    if (kind === TE && value.trim().toLowerCase() !== 'trailers') continue;
    if (omit !== undefined && omit.has(name)) continue;
    if (extra !== undefined && Object.hasOwn(extra, name)) continue;
    if (kind === COOKIE) {
      // HTTP/2 splits cookies into several fields; HTTP/1.1 upstreams need one (RFC 9113 §8.2.3).
      if (cookieAt !== -1) { out[cookieAt] += '; ' + value; continue; }
      cookieAt = out.length + 1;
    }
    out.push(name, value);
  }

  if (nominated !== undefined) {
    // Rare: filter afterwards instead of scanning for Connection before the main pass.
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (nominated.includes(out[i]!)) out.splice(i, 2);
    }
  }

  const chain = client.chain;
  out.push('x-forwarded-for', chain.length === 1 ? chain[0]! : chain.join(', '));
  out.push('x-forwarded-proto', options.protocol);
  const host = options.host;
  const hostPart = host === '' ? '' : hostParameter(host);
  if (host !== '') out.push('x-forwarded-host', host);
  out.push('forwarded', forwardedValueOf(chain, hostPart, options.protocol));

  if (BAD_VALUE.test(options.requestId)) throw invalidValue('x-request-id', true);
  out.push('x-request-id', options.requestId);
  if (BAD_VALUE.test(options.traceparent)) throw invalidValue('traceparent', true);
  out.push('traceparent', options.traceparent);
  if (options.tracestate !== undefined && options.tracestate !== '') {
    if (BAD_VALUE.test(options.tracestate)) throw invalidValue('tracestate', true);
    out.push('tracestate', options.tracestate);
  }

  if (extra !== undefined) {
    for (const name of Object.keys(extra)) {
      const value = extra[name]!;
      if (!TOKEN.test(name)) throw new GatehouseError('ERR_INTERNAL', { detail: `gatehouse-added header name ${JSON.stringify(name)} is not a lower-case token` });
      if (typeof value !== 'string' || BAD_VALUE.test(value)) throw invalidValue(name, true);
      out.push(name, value);
    }
  }
  return out;
}
