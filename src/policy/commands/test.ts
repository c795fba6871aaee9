/**
 * `gatehouse policy test FILE`: runs policy test cases (YAML or JSON) and reports each as
 * ok / not ok. Exit code 0 when every case matches, 1 on any mismatch, 2 when the file or
 * the policies cannot be loaded.
 *
 * @example
 *   # mail.policytest.yaml
 *   policies: ./policies        # relative to this file
 *   policySet: mail
 *   roles: { admin: [mail-user] }
 *   cases:
 *     - name: a mail user reads the inbox
 *       principal: user:alice
 *       roles: [mail-user]
 *       request: { method: GET, route: inbox, path: /mail/inbox }
 *       expect: allow
 *     - name: nobody else does
 *       principal: user:bob
 *       request: { method: GET, route: inbox }
 *       expect: deny
 *
 * With `config: ../gatehouse.yaml` the cases run against the gateway's own routes: each
 * case's route, its policy set and its `Gatehouse::Route` resource (upstream, prefix as
 * `resource.path`, host) come from the configuration exactly as the authorize stage builds
 * them, and the policy directory and hierarchy from its `policy` section (`policies:` may
 * still name a candidate directory).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { compileCheck } from '../../core/config/compile-check.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import { operationSchema } from '../../core/config/policy-schema.ts';
import { normalizePath } from '../../gateway/router/normalize-path.ts';
import { policyTargetOf } from '../../gateway/router/policy-target.ts';
import { compileRouter } from '../../gateway/router/router.ts';
import type { Router } from '../../gateway/router/types.ts';
import type { AuthorizationRequest, PolicyDirectory } from '../types.ts';
import { directoryOf, engineFromDirectory, formatZodError, parsePrincipalSpec, policyDir, reportProblems, requestContextSchema, type CommandResult } from './shared.ts';

const caseSchema = z.object({
  name: z.string().min(1),
  principal: z.string().regex(/^(user|service):.+$/, 'user:<id> or service:<id>'),
  roles: z.array(z.string()).default([]),
  attributes: z.record(z.string(), z.unknown()).default({}),
  request: z.object({
    method: z.string().min(1),
    route: z.string().min(1),
    upstream: z.string().optional(),
    path: z.string().optional(),
    host: z.string().optional(),
    policySet: z.string().optional(),
    context: requestContextSchema.default({}),
    /** ISO time or Unix ms to evaluate at. */
    at: z.union([z.string(), z.number()]).optional(),
  }).strict(),
  expect: z.enum(['allow', 'deny']),
  /** Optional: a policy id that must be among the determining policies. */
  reason: z.string().optional(),
}).strict();

const fileSchema = z.object({
  /** The gateway's configuration file, relative to this file: routes, policy directory and hierarchy. */
  config: z.string().optional(),
  /** Default `policies`, or the configuration's `policy.dir` when `config` is given. */
  policies: z.string().optional(),
  policySet: z.string().optional(),
  roles: z.record(z.string(), z.array(z.string())).optional(),
  routeGroups: z.record(z.string(), z.array(z.string())).optional(),
  operations: z.record(z.string(), z.array(operationSchema)).optional(),
  cases: z.array(caseSchema).min(1),
}).strict();

type TestFile = z.infer<typeof fileSchema>;
type Case = z.infer<typeof caseSchema>;
type Target = Pick<AuthorizationRequest, 'policySet' | 'resource'> & { path: string | undefined };

/** Where the policies and the hierarchy come from, and the gateway's routes when `config` is given. */
async function setting(file: string, doc: TestFile): Promise<{ dir: string; directory: PolicyDirectory; router?: Router } | { problem: string }> {
  const base = dirname(file);
  if (doc.config === undefined) {
    return {
      dir: resolve(base, doc.policies ?? 'policies'),
      directory: { roles: doc.roles ?? {}, routeGroups: doc.routeGroups ?? {}, operations: doc.operations ?? {} },
    };
  }
  const own = (['roles', 'routeGroups', 'operations'] as const).filter((k) => doc[k] !== undefined);
  if (own.length > 0) return { problem: `${file}: ${own.join(', ')}: come from the configuration when "config" is given` };
  const configFile = resolve(base, doc.config);
  let config;
  try {
    config = (await loadConfigFile(configFile, { crossCheck: compileCheck })).config;
  } catch (err) {
    return { problem: (err as Error).message };
  }
  return {
    dir: doc.policies === undefined ? policyDir(configFile, config.policy.dir) : resolve(base, doc.policies),
    directory: directoryOf(config.policy),
    router: compileRouter(config.routes, config.upstreams, { maxBodyBytes: config.limits.maxBodyBytes }),
  };
}

/**
 * The policy set and resource for a case: from the gateway's route when there is a
 * configuration (the case must name the route its path is routed to), else as the case
 * describes them. `refused`: the gateway denies the request before any policy (405).
 */
function targetOf(c: Case, doc: TestFile, router: Router | undefined): Target | { mismatch: string } | { refused: string } {
  const r = c.request;
  const policySet = r.policySet ?? doc.policySet;
  if (router === undefined) {
    return { policySet, resource: { routeId: r.route, ...(r.upstream ? { upstream: r.upstream } : {}), ...(r.host ? { host: r.host } : {}) }, path: r.path };
  }
  const route = router.routes.find((x) => x.id === r.route);
  if (route === undefined) return { mismatch: `no route "${r.route}" in the configuration` };
  let path: string | undefined;
  if (r.path !== undefined) {
    try {
      path = normalizePath(r.path).path;
    } catch (err) {
      return { mismatch: `${r.path}: the gateway refuses this path before routing (${(err as Error).message})` };
    }
    const routed = router.match(r.host ?? '*', path);
    if (routed !== route) return { mismatch: `${r.path} is routed to ${routed ? `route ${routed.id}` : 'no route'}, not ${r.route}` };
  }
  if (route.config.access !== 'policy') return { mismatch: `route ${r.route} is ${route.config.access}; no policy decides it` };
  if (route.methods && !route.methods.has(r.method.toUpperCase())) return { refused: `route ${r.route} does not accept ${r.method.toUpperCase()} (405 before any policy)` };
  if (r.upstream !== undefined && r.upstream !== route.upstreamName) return { mismatch: `route ${r.route} forwards to ${route.upstreamName}, not ${r.upstream}` };
  const target = policyTargetOf(route);
  if (policySet !== undefined && policySet !== target.policySet) return { mismatch: `route ${r.route} is decided by policy set ${target.policySet ?? '(none)'}, not ${policySet}` };
  return { ...target, path };
}

export async function policyTestCommand(file: string): Promise<CommandResult> {
  let doc: z.infer<typeof fileSchema>;
  try {
    const text = await readFile(file, 'utf8');
    const raw: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) return { exitCode: 2, output: `${file}: ${formatZodError(parsed.error)}` };
    doc = parsed.data;
  } catch (err) {
    return { exitCode: 2, output: `${file}: ${(err as Error).message}` };
  }

  const found = await setting(file, doc);
  if ('problem' in found) return { exitCode: 2, output: found.problem };
  const { dir, directory, router } = found;
  let loaded;
  try {
    loaded = await engineFromDirectory(dir, directory);
  } catch (err) {
    return { exitCode: 2, output: `${dir}: ${(err as Error).message}` };
  }
  const problems = reportProblems(loaded.report);
  if (problems.length > 0) return { exitCode: 2, output: `policies in ${dir} do not load:\n${problems.join('\n')}` };
  const { engine } = loaded;

  const lines: string[] = [];
  let failed = 0;
  doc.cases.forEach((c, i) => {
    const n = i + 1;
    const at = c.request.at === undefined ? undefined : typeof c.request.at === 'number' ? c.request.at : Date.parse(c.request.at);
    if (at !== undefined && Number.isNaN(at)) {
      failed++;
      lines.push(`not ok ${n} - ${c.name}: "at" is not a time`);
      return;
    }
    const r = c.request;
    const target = targetOf(c, doc, router);
    if ('mismatch' in target) {
      failed++;
      lines.push(`not ok ${n} - ${c.name}: ${target.mismatch}`);
      return;
    }
    if ('refused' in target) {
      const holds = c.expect === 'deny' && c.reason === undefined;
      if (!holds) failed++;
      lines.push(holds ? `ok ${n} - ${c.name} (${target.refused})` : `not ok ${n} - ${c.name}: ${target.refused}`);
      return;
    }
    const decision = engine.authorize({
      policySet: target.policySet,
      principal: { ...parsePrincipalSpec(c.principal), roles: c.roles, attributes: c.attributes },
      action: r.method.toUpperCase(),
      resource: target.resource,
      context: { ...(target.path ? { path: target.path } : {}), ...(r.host ? { host: r.host } : {}), ...r.context },
      ...(at === undefined ? {} : { now: at }),
    });
    const got = decision.allowed ? 'allow' : 'deny';
    const reasonOk = c.reason === undefined || decision.reasons.includes(c.reason);
    if (got === c.expect && reasonOk) {
      lines.push(`ok ${n} - ${c.name}`);
    } else {
      failed++;
      const why = got !== c.expect ? `expected ${c.expect}, got ${got}` : `expected reason ${c.reason}, got ${decision.reasons.join(', ') || 'none'}`;
      lines.push(`not ok ${n} - ${c.name}: ${why}`);
      lines.push(engine.explain(decision).split('\n').map((l) => `    ${l}`).join('\n'));
    }
  });
  lines.push(`# ${doc.cases.length} cases, ${doc.cases.length - failed} passed, ${failed} failed`);
  return { exitCode: failed > 0 ? 1 : 0, output: lines.join('\n') };
}
