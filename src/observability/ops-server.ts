/**
 * The operations listener, apart from public traffic: /healthz (liveness),
 * /readyz (readiness with each dependency), /metrics (Prometheus).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Registry } from 'prom-client';
import type { HealthRegistry } from './health.ts';
import { sharedMetricsText } from './shared-metrics-text.ts';
import { isLoopbackAddress } from '../core/loopback.ts';

/** An operator action on the ops listener (POST only), e.g. forcing a certificate rotation. */
export type OpsAction = () => Promise<Record<string, unknown>>;

/**
 * True for a peer on the same host. Operator actions are accepted from such peers only: the
 * listener itself is often bound beyond loopback (Kubernetes probes and Prometheus reach it on
 * the pod's address), which must not let every pod in the cluster trigger actions. An
 * operator runs them on the host, or in the pod (`kubectl exec … curl 127.0.0.1:9090/…`).
 */
export function isLoopbackPeer(address: string | undefined): boolean {
  return address !== undefined && isLoopbackAddress(address);
}

/**
 * True for a Host naming this host by loopback (`localhost`, `127.x.x.x`, `[::1]`, any port).
 * Actions need it besides a loopback peer: after DNS rebinding, a web page open in the
 * operator's browser sends same-origin requests (no CORS preflight, any content type) to
 * 127.0.0.1 under its own name, which the peer address alone cannot tell apart.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && /^(?:localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(?::\d{1,5})?$/i.test(host);
}

/**
 * True for a Host the ops listener answers to: absent (HTTP/1.0), `localhost`, an IP address
 * (what probes and Prometheus's pod discovery send), or one of `allowed` (DNS names, any port,
 * case and a trailing dot ignored). Everything the listener serves is refused under any other
 * name: after DNS rebinding, a web page open in a browser on this host reads same-origin
 * responses from 127.0.0.1 under its own name, and /metrics and /readyz describe the routes,
 * the traffic and the dependencies.
 */
export function isOpsHost(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (host === undefined) return true;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 && /^(?::\d{1,5})?$/.test(host.slice(end + 1)) && isIP(host.slice(1, end)) === 6;
  }
  const colon = host.indexOf(':');
  if (colon >= 0 && !/^:\d{1,5}$/.test(host.slice(colon))) return false;
  let name = (colon >= 0 ? host.slice(0, colon) : host).toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name === 'localhost' || isIP(name) === 4 || allowed.has(name);
}

/** Limits of the ops listener; Node's defaults (no connection cap, 60 s for the head, 300 s for the request) let clients hold sockets. */
export interface OpsServerLimits {
  /** `listeners.ops.allowedHosts`: DNS names accepted in Host besides localhost and IP addresses. */
  allowedHosts?: readonly string[];
  /** `listeners.ops.maxConnections`: connections beyond it are closed as they are accepted. */
  maxConnections?: number;
  /** Time a client has to send the request head. */
  headersTimeoutMs?: number;
  /** Time a client has to send the whole request. */
  requestTimeoutMs?: number;
  /** Longest a client may leave the answer's bytes unread before it is disconnected (slow read). */
  sendTimeoutMs?: number;
}

export function createOpsServer(deps: { health: HealthRegistry; registry: Registry; isDraining: () => boolean; actions: () => ReadonlyMap<string, OpsAction> }, limits: OpsServerLimits = {}): Server {
  // Probes and scrapes send a short head and no body: seconds are plenty. The expiry check
  // runs every quarter of the header timeout (Node's default is every 30 s, whatever the limit).
  const headersTimeout = limits.headersTimeoutMs ?? 5_000;
  const requestTimeout = Math.max(headersTimeout, limits.requestTimeoutMs ?? 10_000);
  const allowedHosts = new Set((limits.allowedHosts ?? []).map((h) => h.toLowerCase().replace(/\.$/, '')));
  const server = createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(50, Math.floor(headersTimeout / 4)), keepAliveTimeout: 5_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    if (!isOpsHost(req.headers.host, allowedHosts)) {
      return send(421, 'application/json', JSON.stringify({ error: { code: 'ERR_OPS_HOST_UNKNOWN', message: 'This listener does not serve that host name' } }));
    }
    const action = deps.actions().get(path);
    if (action) {
      if (req.method !== 'POST') return send(405, 'text/plain', 'method not allowed\n');
      if (!isLoopbackPeer(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host)) return send(403, 'application/json', JSON.stringify({ error: { code: 'ERR_ADMIN_FORBIDDEN', message: 'Operator actions are accepted from this host only' } }));
      // A browser on the operator's machine must not be able to trigger actions cross-site:
      // simple cross-site forms cannot send this content type without a CORS preflight.
      if (req.headers['content-type'] !== 'application/json') return send(415, 'application/json', JSON.stringify({ error: { code: 'ERR_ADMIN_INPUT_INVALID', message: 'content-type must be application/json' } }));
      action().then((result) => send(200, 'application/json', JSON.stringify(result)), (err: Error) => send(500, 'application/json', JSON.stringify({ error: { code: 'ERR_INTERNAL', message: err.message } })));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return send(200, 'application/json', JSON.stringify({ status: 'ok', instance: deps.health.instance }));
    if (path === '/readyz') {
      deps.health.readiness().then((report) => {
        const ready = report.ready && !deps.isDraining();
        send(ready ? 200 : 503, 'application/json', JSON.stringify({ ...report, ready, draining: deps.isDraining() }));
      }, (err: Error) => send(503, 'application/json', JSON.stringify({ ready: false, detail: err.message })));
      return;
    }
    if (path === '/metrics') {
      void serveMetrics(deps.registry, res);
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
  // Slow read: a client that asks for /metrics (megabytes) and reads nothing kept the socket
  // and the unsent text in memory for good (no timeout applies once the request is in); one
  // such connection after another grew the process. Node's inactivity timer fires after
  // sendTimeoutMs without a read or a write; the socket is cut when bytes wait for the client,
  // or when no answer is under way (an idle keep-alive connection, which Node's default action
  // closes too). An action that takes long to answer is left alone.
  // Whatever reaches the listener (often every pod of the cluster) could otherwise open
  // connections until the process runs out of file descriptors, which the public listener
  // shares. Node closes a connection past the cap as soon as it is accepted.
  server.maxConnections = limits.maxConnections ?? 64;
  server.timeout = limits.sendTimeoutMs ?? 10_000;
  server.on('timeout', (socket: Socket) => {
    const busy = (socket as { _httpMessage?: unknown })._httpMessage;
    if (!busy || socket.writableLength > 0) socket.destroy();
  });
  return server;
}

/**
 * /metrics, written piece by piece as it is rendered: prom-client's rendering, and encoding
 * its megabytes in one write, held the event loop, and every request in flight, for the whole
 * scrape. A failure before the first piece is a 500; after it, the connection is cut so that
 * the scraper records a failed scrape rather than reading a truncated one. Scrapes that arrive
 * together share one render (shared-metrics-text.ts).
 */
async function serveMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  try {
    for await (const piece of sharedMetricsText(registry)) {
      if (!res.headersSent) res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.write(piece);
    }
    res.end();
  } catch {
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('metrics failed\n');
  }
}
