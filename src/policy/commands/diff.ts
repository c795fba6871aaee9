/**
 * `gatehouse policy diff --candidate DIR --replay FILE`: re-evaluates recorded requests
 * under a candidate policy directory and lists every decision that would change.
 *
 * The replay file has one JSON object per line: `{ "request": <AuthorizationRequest>,
 * "decisionId"?: string, "allowed"?: boolean }` (see `replayRecord`). The "before" side is
 * the recorded `allowed` when present, else the current policies' answer. Requests are
 * evaluated at their recorded time (`request.now`), so time-based rules replay faithfully.
 *
 * Exit code 0 when nothing changes, 1 when some decision changes, 2 on unreadable input.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { PolicyEngine } from '../engine.ts';
import type { AuthorizationRequest, PolicyDecision, PolicyDirectory } from '../types.ts';
import { authorizationRequestSchema, engineFromDirectory, formatZodError, reportProblems, toAuthorizationRequest, type CommandResult } from './shared.ts';

const recordSchema = z.object({
  request: authorizationRequestSchema,
  decisionId: z.string().optional(),
  allowed: z.boolean().optional(),
}).strict();

/** One line of a replay file, from a decision and the request it answered. */
export function replayRecord(decision: PolicyDecision, request: AuthorizationRequest): string {
  return JSON.stringify({ request: { ...request, now: request.now ?? decision.at }, decisionId: decision.id, allowed: decision.allowed });
}

export interface PolicyDiffOptions {
  /** Directory with the policies in force now. */
  current: string;
  /** Directory with the candidate policies. */
  candidate: string;
  /** JSON-lines file of recorded requests. */
  replay: string;
  /** Role hierarchy, route groups and operations (from the configuration). */
  directory?: PolicyDirectory;
}

function verdict(allowed: boolean): string {
  return allowed ? 'allow' : 'deny';
}

function why(d: PolicyDecision): string {
  return d.reasons.length > 0 ? `${d.basis}: ${d.reasons.join(', ')}` : d.basis;
}

export async function policyDiffCommand(o: PolicyDiffOptions): Promise<CommandResult> {
  let current: PolicyEngine;
  let candidate: PolicyEngine;
  try {
    const a = await engineFromDirectory(o.current, o.directory ?? {});
    const b = await engineFromDirectory(o.candidate, o.directory ?? {});
    const problems = [...reportProblems(a.report).map((p) => `current: ${p}`), ...reportProblems(b.report).map((p) => `candidate: ${p}`)];
    if (problems.length > 0) return { exitCode: 2, output: `policies do not load:\n${problems.join('\n')}` };
    current = a.engine;
    candidate = b.engine;
  } catch (err) {
    return { exitCode: 2, output: (err as Error).message };
  }

  const changes: string[] = [];
  const errors: string[] = [];
  let total = 0;
  let lineNo = 0;
  const lines = createInterface({ input: createReadStream(o.replay, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let parsed;
      try {
        parsed = recordSchema.safeParse(JSON.parse(line));
      } catch (err) {
        errors.push(`${o.replay}:${lineNo}: ${(err as Error).message}`);
        continue;
      }
      if (!parsed.success) {
        errors.push(`${o.replay}:${lineNo}: ${formatZodError(parsed.error)}`);
        continue;
      }
      total++;
      const req = toAuthorizationRequest(parsed.data.request);
      const after = candidate.authorize(req);
      const beforeAllowed = parsed.data.allowed ?? current.authorize(req).allowed;
      if (beforeAllowed !== after.allowed) {
        const label = parsed.data.decisionId ?? `line ${lineNo}`;
        changes.push(`${label}: ${after.principal} ${after.action} ${after.resource}: ${verdict(beforeAllowed)} → ${verdict(after.allowed)} (${why(after)})`);
      }
    }
  } catch (err) {
    return { exitCode: 2, output: `${o.replay}: ${(err as Error).message}` };
  }
  const out = [...changes, `# ${total} decisions replayed, ${changes.length} would change${errors.length > 0 ? `, ${errors.length} lines unreadable` : ''}`, ...errors];
  return { exitCode: errors.length > 0 ? 2 : changes.length > 0 ? 1 : 0, output: out.join('\n') };
}
