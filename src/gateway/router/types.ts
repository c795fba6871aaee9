import type { RouteConfig, UpstreamConfig } from '../../core/config/gateway-schema.ts';
import type { IpRules } from '../http/ip-rules.ts';

/** A route after config compilation: what the router returns for a request. */
export interface CompiledRoute {
  readonly id: string;
  readonly config: RouteConfig;
  readonly upstreamName: string;
  readonly upstream: UpstreamConfig;
  /** Host the route is bound to: lower-case, no port, no trailing dot; '*' for any. */
  readonly host: string;
  /** Normalized prefix without trailing slash ('' for '/'). */
  readonly prefix: string;
  readonly methods: ReadonlySet<string> | undefined;
  readonly maxBodyBytes: number;
  /** The route's own `ipRules` (on top of the top-level ones); undefined when it has none. */
  readonly ipRules: IpRules | undefined;
}

/** A configuration problem, with the path of the offending key (e.g. ['routes', 2, 'path']). */
export interface RouteProblem {
  path: (string | number)[];
  message: string;
}

/** Host + path → route. Built once per configuration generation; lookups do no I/O. */
export interface Router {
  /**
   * The route for a request, or undefined (→ 404 before any authentication work).
   * @param host Host header value (any case, port and trailing dot allowed) or the
   *   already-normalized host.
   * @param path A path returned by `normalizePath` (never the raw `req.url`).
   */
  match(host: string, path: string): CompiledRoute | undefined;
  /** Every compiled route, in configuration order. */
  readonly routes: readonly CompiledRoute[];
}
