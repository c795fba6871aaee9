/**
 * `gatehouse policy explain --principal user:alice --roles mail-user --method GET --url /mail/inbox`
 *
 * Routes the URL with the real router, then shows what the gateway would decide and why.
 * Exit code 0 when the request would be allowed, 1 when denied (or no route), 2 on bad input.
 */
import type { Config } from '../../core/config/schema.ts';
import { compileRouter } from '../../gateway/router/router.ts';
import { normalizePath } from '../../gateway/router/normalize-path.ts';
import { policyTargetOf } from '../../gateway/router/policy-target.ts';
import type { PolicyRequestContext } from '../types.ts';
import { directoryOf, engineFromDirectory, parsePrincipalSpec, policyDir, reportProblems, type CommandResult } from './shared.ts';

export interface PolicyExplainOptions {
  config: Config;
  /** Path of the configuration file (policy.dir is relative to it). */
  configFile?: string;
  /** `user:<id>` or `service:<id>`. */
  principal: string;
  roles?: string[];
  attributes?: Record<string, unknown>;
  method: string;
  /** `/path?query` or `https://host/path`. */
  url: string;
  /** Extra context facts (client address, amr, MFA time…). */
  context?: PolicyRequestContext;
  /** Unix ms to evaluate at (time-based policies). */
  now?: number;
}

export async function policyExplainCommand(o: PolicyExplainOptions): Promise<CommandResult> {
  let principal;
  try {
    principal = parsePrincipalSpec(o.principal);
  } catch (err) {
    return { exitCode: 2, output: (err as Error).message };
  }
  const url = new URL(o.url, 'https://any.invalid');
  const host = /^[a-z]+:\/\//i.test(o.url) ? url.hostname : '*';
  let path: string;
  try {
    path = normalizePath(url.pathname + url.search).path;
  } catch (err) {
    return { exitCode: 1, output: `${o.url}: the gateway refuses this path before routing (${(err as Error).message})` };
  }
  const router = compileRouter(o.config.routes, o.config.upstreams, { maxBodyBytes: o.config.limits.maxBodyBytes });
  const route = router.match(host, path);
  const method = o.method.toUpperCase();
  if (!route) return { exitCode: 1, output: `${method} ${o.url}: no route matches; the gateway answers 404 before any authentication` };
  if (route.methods && !route.methods.has(method)) return { exitCode: 1, output: `${method} ${o.url}: route ${route.id} does not accept ${method} (405)` };
  if (route.config.access === 'public') return { exitCode: 0, output: `${method} ${o.url}: route ${route.id} is public; no authentication or policy` };
  if (route.config.access === 'authenticated') return { exitCode: 0, output: `${method} ${o.url}: route ${route.id} allows any authenticated principal; no policy` };

  const { engine, report } = await engineFromDirectory(policyDir(o.configFile, o.config.policy.dir), directoryOf(o.config.policy));
  const decision = engine.authorize({
    ...policyTargetOf(route),
    principal: { ...principal, roles: o.roles ?? [], attributes: o.attributes ?? {} },
    action: method,
    context: { path, host: host === '*' ? '' : host, ...o.context },
    ...(o.now === undefined ? {} : { now: o.now }),
  });
  const problems = reportProblems(report);
  const notes = problems.length > 0 ? `\n\nwarning: some policy sets failed to load and are treated as missing:\n${problems.join('\n')}` : '';
  return { exitCode: decision.allowed ? 0 : 1, output: `route ${route.id}\n${engine.explain(decision)}${notes}` };
}
