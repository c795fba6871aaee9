/**
 * The public HTTPS listener (TLS 1.2+ with AEAD ciphers only); the plain-HTTP listener that
 * only redirects is redirect-server.ts. Limits that Node enforces itself (header size, header and request
 * timeouts, connection count) are set here; what the parser refuses is answered and recorded
 * through the gateway's error path (http/parser-refusal.ts), its code chosen by `clientErrorOf`.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { constants as cryptoConstants } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { LimitsConfig } from '../core/config/gateway-schema.ts';
import { GatehouseError } from '../core/errors.ts';

/** TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are all acceptable. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Whether the OpenSSL underneath knows a key exchange group (ML-KEM came with OpenSSL 3.5). */
function knowsGroup(group: string): boolean {
  try {
    createSecureContext({ ecdhCurve: group });
    return true;
  } catch {
    return false;
  }
}

/**
 * Key exchange groups, best first. X25519MLKEM768 (hybrid post-quantum, TLS 1.3 only) is what
 * browsers offer first and what Node selects by default; a list without it held every TLS 1.3
 * handshake to classical X25519, so traffic recorded today could be decrypted by a future quantum
 * computer ("harvest now, decrypt later"). Left out only where OpenSSL lacks it (before 3.5).
 */
export const KEY_EXCHANGE_GROUPS = [...(knowsGroup('X25519MLKEM768') ? ['X25519MLKEM768'] : []), 'X25519', 'P-256', 'P-384'].join(':');

export interface TlsMaterial {
  cert: string;
  key: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Trust bundle for client certificates (mTLS as an authentication method). */
  ca?: string;
}

export function tlsOptions(tls: TlsMaterial) {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: tls.minVersion,
    maxVersion: 'TLSv1.3' as const,
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    ecdhCurve: KEY_EXCHANGE_GROUPS,
    // TLS 1.2 client-initiated renegotiation: a full handshake of server CPU per request of
    // the client, repeatable on one connection; nothing here needs it.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
    ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
  };
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export function applyLimits(server: HttpServer | HttpsServer, limits: LimitsConfig): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Node's socket inactivity timer, read only as slow-read protection: it fires after
  // sendTimeoutMs without a read or write on the socket, and the socket is cut only when
  // bytes for the client are waiting (it stopped reading). A socket that is silent because
  // Gatehouse waits on a slow upstream is left alone — the route's timeouts (headersMs,
  // idleMs, totalMs) decide that; the default action (destroy) cut such requests off
  // (test/gateway/slow-upstream-client-socket.test.ts). The rest of the client side:
  // handshakeTimeout (no TLS handshake), headersTimeout (connected but no complete request,
  // checked every connectionsCheckingInterval), keepAliveTimeout (idle between requests),
  // requestTimeout (slow body).
  server.timeout = limits.sendTimeoutMs;
  server.on('timeout', (socket: Duplex) => {
    // Node also runs keepAliveTimeout on this timer, and a 'timeout' listener replaces its
    // default action: a socket with no response in progress (`_httpMessage`, Node's own
    // marker) is an idle keep-alive connection and is closed as Node would.
    const busy = (socket as { _httpMessage?: unknown })._httpMessage;
    if (!busy || socket.writableLength > 0) socket.destroy();
  });
}

export function createPublicServer(tls: TlsMaterial, limits: LimitsConfig, onRequest: RequestHandler, onUpgrade: UpgradeHandler, onClientError: (err: NodeJS.ErrnoException, socket: Duplex) => void): HttpsServer {
  const server = createHttpsServer({
    ...tlsOptions(tls),
    maxHeaderSize: limits.maxHeaderBytes,
    // The accept stage refuses a missing or malformed Host itself (400 with a request id, an
    // access line and an audit record); Node's own check answered a bare 400 nothing recorded.
    requireHostHeader: false,
    noDelay: true,
    keepAlive: true,
    // A client that sends headers fast but never finishes the TLS handshake is cut here.
    handshakeTimeout: limits.headersTimeoutMs,
    // Node checks header/request timeouts on this interval (30 s by default), which would
    // let a slowloris client hold a connection far longer than headersTimeoutMs.
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  }, onRequest);
  applyLimits(server, limits);
  // Requests with `Expect: 100-continue` go through the pipeline like any other; the 100 is
  // sent only once their body is about to be read (http/expect-continue.ts), not by Node up front.
  server.on('checkContinue', onRequest);
  // Any other expectation: refused by the accept stage (417 with a request id and an access
  // line) instead of Node's bare 417 that nothing records.
  server.on('checkExpectation', onRequest);
  server.on('upgrade', onUpgrade);
  // CONNECT (a forward-proxy tunnel request) hands over the raw socket like an upgrade; without
  // a listener Node closes it with no answer and no access line. Through the upgrade path it
  // is refused by the accept stage with an error response and recorded like any request.
  server.on('connect', onUpgrade);
  server.on('clientError', onClientError);
  return server;
}

/**
 * Whether a 'clientError' comes from the HTTP parser (or Node's request timers) and can be
 * answered in HTTP. The HTTPS server re-emits TLS failures (handshake timeout, a ClientHello
 * it refuses) as 'clientError' too; on such a socket there is no HTTP connection to answer
 * on — a response written before the handshake finished waits for it forever, and holds the
 * connection open with it.
 */
export function isHttpClientError(err: NodeJS.ErrnoException): boolean {
  const code = err.code ?? '';
  return code.startsWith('HPE_') || code.startsWith('ERR_HTTP_');
}

/** The error for a parser failure (too-large headers, smuggling attempts, garbage, a request too slow). */
export function clientErrorOf(err: NodeJS.ErrnoException): GatehouseError {
  const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'ERR_REQUEST_HEADERS_TOO_LARGE'
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'ERR_REQUEST_TIMEOUT'
    : /TRANSFER_ENCODING|CONTENT_LENGTH/.test(err.code ?? '') ? 'ERR_REQUEST_SMUGGLING'
    // A version Node's parser does not take (`HTTP/1.2`, `HTTP/3.0`, `HTTP/11`), and the HTTP/2
    // prior-knowledge preface (`PRI * HTTP/2.0`, SM), on which it stops: only HTTP/1.0 and 1.1 are served.
    : err.code === 'HPE_INVALID_VERSION' || err.code === 'HPE_PAUSED_H2_UPGRADE' ? 'ERR_REQUEST_HTTP_VERSION_UNSUPPORTED'
    : 'ERR_REQUEST_MALFORMED';
  return new GatehouseError(code, { detail: `${err.code ?? ''} ${err.message}` });
}
