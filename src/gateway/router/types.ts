import type { RouteConfig, UpstreamConfig } from '../../core/config/gateway-schema.ts';

/** A route after config compilation: what the router returns for a request. */
export interface CompiledRoute {
  readonly id: string;
  readonly config: RouteConfig;
  readonly upstreamName: string;
  readonly upstream: UpstreamConfig;
  /** Normalized prefix without trailing slash ('' for '/'). */
  readonly prefix: string;
  readonly methods: ReadonlySet<string> | undefined;
  readonly maxBodyBytes: number;
}
