/**
 * Runs the real authenticate stage behind a real HTTP server: each request gets a
 * RequestContext on the route chosen by the `x-test-route` header; a verified identity is
 * answered as JSON (plus `x-stage-sync: 1` when the stage finished without a promise),
 * an error through the gateway's one error writer. `/_gatehouse/auth/…` goes to the auth routes.
 */
import { normalizeHost } from '../../../src/gateway/router/normalize-host.ts';
import { request, type Dispatcher } from 'undici';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { routeSchema, upstreamSchema } from '../../../src/core/config/gateway-schema.ts';
import { toGatehouseError } from '../../../src/core/errors.ts';
import { RequestContext, type Stage } from '../../../src/gateway/context.ts';
import type { Generation } from '../../../src/gateway/generation.ts';
import type { CompiledRoute } from '../../../src/gateway/router/types.ts';
import { writeErrorResponse } from '../../../src/gateway/respond-error.ts';

export function compiledRoute(input: Record<string, unknown>): CompiledRoute {
  const config = routeSchema.parse({ upstream: 'app', ...input });
  return {
    id: config.id, config, upstreamName: 'app', upstream: upstreamSchema.parse({ url: 'http://127.0.0.1:9' }),
    host: '*', prefix: config.path === '/' ? '' : config.path, methods: undefined, maxBodyBytes: 1024, ipRules: undefined,
  };
}

export interface Harness { url: string; close(): Promise<void> }

export async function startHarness(options: {
  stage: Stage;
  routes: CompiledRoute[];
  authRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Serve HTTPS with this certificate and ask clients for a certificate (any, like a token-binding listener). */
  tls?: { certPem: string; keyPem: string };
}): Promise<Harness> {
  const byId = new Map(options.routes.map((r) => [r.id, r]));
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (options.authRoutes?.(req, res)) return;
    const ctx = new RequestContext(req, res, {} as Generation);
    const url = new URL(req.url ?? '/', 'http://x');
    ctx.path = url.pathname;
    ctx.host = normalizeHost(req.headers.host ?? '');
    ctx.query = url.search.slice(1);
    ctx.route = byId.get(String(req.headers['x-test-route'] ?? 'api'));
    const ok = (sync: boolean) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-stage-sync': sync ? '1' : '0' });
      res.end(JSON.stringify(ctx.identity ?? null));
    };
    const fail = (error: unknown) => writeErrorResponse(res, toGatehouseError(error), 'test', req.headers.accept);
    try {
      const result = options.stage(ctx);
      if (result === undefined) ok(true);
      else result.then(() => ok(false), fail);
    } catch (error) {
      fail(error);
    }
  };
  const server = options.tls === undefined
    ? createServer(handler)
    : createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem, requestCert: true, rejectUnauthorized: false }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => { server.closeAllConnections(); return new Promise((resolve) => server.close(() => resolve())); },
  };
}

/**
 * Sends a request with undici's `request` (fetch would add its own Sec-Fetch-* headers);
 * returns status, parsed JSON body and headers.
 */
export async function call(url: string, init: { route?: string; headers?: Record<string, string | string[]>; method?: string; dispatcher?: Dispatcher } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'GET', headers: { 'x-test-route': init.route ?? 'api', ...init.headers },
    ...(init.dispatcher === undefined ? {} : { dispatcher: init.dispatcher }),
  });
  const text = await res.body.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (Array.isArray(v)) for (const x of v) headers.append(k, x); else if (v !== undefined) headers.set(k, v);
  }
  return { status: res.statusCode, body, headers };
}
