/**
 * Shared parts of the `gatehouse policy …` commands. Commands are the command-line edge of
 * the policy area: they read files and return text and an exit code; the CLI prints them.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { PolicyConfig } from '../../core/config/policy-schema.ts';
import { PolicyEngine, type ReloadReport } from '../engine.ts';
import { readPolicyDirectory } from '../io/policy-files.ts';
import type { AuthorizationRequest, PolicyDirectory, PolicyPrincipal } from '../types.ts';

/** What a command hands back to the CLI. */
export interface CommandResult {
  exitCode: number;
  output: string;
}

/** The directory part of the policy configuration. */
export function directoryOf(policy: Pick<PolicyConfig, 'roles' | 'routeGroups' | 'operations'>): PolicyDirectory {
  return { roles: policy.roles, routeGroups: policy.routeGroups, operations: policy.operations };
}

/** Resolves the policy directory against the config file's directory. */
export function policyDir(configFile: string | undefined, dir: string): string {
  if (isAbsolute(dir)) return dir;
  return resolve(configFile ? dirname(configFile) : process.cwd(), dir);
}

/** An engine loaded from a directory, without cache (commands evaluate each request once). */
export async function engineFromDirectory(dir: string, directory: PolicyDirectory): Promise<{ engine: PolicyEngine; report: ReloadReport }> {
  const engine = new PolicyEngine({ cacheSize: 0, recentDecisions: 0 });
  engine.setDirectory(directory);
  const report = engine.replaceAll(await readPolicyDirectory(dir));
  return { engine, report };
}

export function reportProblems(report: ReloadReport): string[] {
  return Object.entries(report.failed).flatMap(([set, problems]) => problems.map((p) => `policy set ${set}: ${p}`));
}

const PRINCIPAL_SPEC = /^(user|service):(.+)$/;

/** `user:alice` or `service:mail-api`. */
export function parsePrincipalSpec(spec: string): { kind: 'user' | 'service'; id: string } {
  const m = PRINCIPAL_SPEC.exec(spec);
  if (!m) throw new Error(`principal "${spec}" must look like user:<id> or service:<id>`);
  return { kind: m[1] as 'user' | 'service', id: m[2]! };
}

const json: z.ZodType<unknown> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(json), z.record(z.string(), json)]));

export const principalSchema = z.object({
  kind: z.enum(['user', 'service']),
  id: z.string().min(1),
  roles: z.array(z.string()).default([]),
  attributes: z.record(z.string(), json).optional(),
}).strict();

export const requestContextSchema = z.object({
  clientAddress: z.string().optional(),
  path: z.string().optional(),
  host: z.string().optional(),
  authMethod: z.string().optional(),
  amr: z.array(z.string()).optional(),
  authTime: z.number().int().optional(),
  mfaTime: z.number().int().optional(),
  spiffeId: z.string().optional(),
  issuer: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
}).strict();

/** An `AuthorizationRequest` as JSON (replay files). */
export const authorizationRequestSchema = z.object({
  policySet: z.string().optional(),
  principal: principalSchema,
  action: z.string().min(1),
  resource: z.object({
    routeId: z.string().min(1),
    upstream: z.string().optional(),
    path: z.string().optional(),
    host: z.string().optional(),
  }).strict(),
  context: requestContextSchema.default({}),
  now: z.number().int().optional(),
}).strict();

/** Removes keys whose value is undefined (the engine's types are exact about optional fields). */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function toAuthorizationRequest(r: z.infer<typeof authorizationRequestSchema>): AuthorizationRequest {
  const principal: PolicyPrincipal = compact({ kind: r.principal.kind, id: r.principal.id, roles: r.principal.roles, attributes: r.principal.attributes as Record<string, unknown> | undefined });
  return compact({
    policySet: r.policySet,
    principal,
    action: r.action,
    resource: compact(r.resource),
    context: compact(r.context),
    now: r.now,
  }) as AuthorizationRequest;
}

export function formatZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
