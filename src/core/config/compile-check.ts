/**
 * Validation beyond the schema: everything the gateway will compile from a config
 * (routes, trusted proxies) is compiled once here, and upstreams that are Gatehouse itself
 * are refused (self-upstream.ts), so `config validate` reports the same
 * problems a start or reload would.
 */
import type { Config } from './schema.ts';
import type { ConfigProblem } from './load.ts';
import { compileRouter } from '../../gateway/router/router.ts';
import { compileTrustedProxies } from '../../gateway/http/trusted-proxies.ts';
import { selfUpstreamProblems } from './self-upstream.ts';

export function compileCheck(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const collect = (fn: () => unknown, path: (string | number)[]) => {
    try { fn(); } catch (err) {
      const list = (err as { problems?: ConfigProblem[] }).problems;
      if (Array.isArray(list)) problems.push(...list);
      else problems.push({ path, message: (err as Error).message });
    }
  };
  collect(() => compileRouter(config.routes, config.upstreams, { maxBodyBytes: config.limits.maxBodyBytes }), ['routes']);
  collect(() => compileTrustedProxies(config.trustedProxies), ['trustedProxies']);
  problems.push(...selfUpstreamProblems(config));
  return problems;
}
