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
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { operationSchema } from '../../core/config/policy-schema.ts';
import { engineFromDirectory, formatZodError, parsePrincipalSpec, reportProblems, requestContextSchema, type CommandResult } from './shared.ts';

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
  policies: z.string().default('policies'),
  policySet: z.string().optional(),
  roles: z.record(z.string(), z.array(z.string())).default({}),
  routeGroups: z.record(z.string(), z.array(z.string())).default({}),
  operations: z.record(z.string(), z.array(operationSchema)).default({}),
  cases: z.array(caseSchema).min(1),
}).strict();

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

  const dir = resolve(dirname(file), doc.policies);
  let loaded;
  try {
    loaded = await engineFromDirectory(dir, { roles: doc.roles, routeGroups: doc.routeGroups, operations: doc.operations });
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
    const decision = engine.authorize({
      policySet: r.policySet ?? doc.policySet,
      principal: { ...parsePrincipalSpec(c.principal), roles: c.roles, attributes: c.attributes },
      action: r.method.toUpperCase(),
      resource: { routeId: r.route, ...(r.upstream ? { upstream: r.upstream } : {}), ...(r.host ? { host: r.host } : {}) },
      context: { ...(r.path ? { path: r.path } : {}), ...(r.host ? { host: r.host } : {}), ...r.context },
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
