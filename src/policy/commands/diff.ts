/**
 * `gatehouse policy diff --candidate DIR (--replay FILE | --since TIME)`: re-evaluates
 * recorded decisions under a candidate policy directory and lists every decision that
 * would change.
 *
 * Recorded decisions come from the audit log (the `policy.decision` events, read through the
 * audit area's query) or from a JSON-lines file of any shape `replayRecord` reads: replay
 * lines, event payloads, or the output of `gatehouse audit query --event policy.decision`.
 * The "before" side is the recorded answer when there is one, else the current policies'
 * answer. Decisions are evaluated at their recorded time, so time-based rules replay
 * faithfully. When the candidate reads a principal attribute or context field that the
 * recording did not keep (the set in force did not read it), the replay sees it as absent
 * and the output says so.
 *
 * Exit code 0 when nothing changes, 1 when some decision changes, 2 on unreadable input.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { queryAudit } from '../../audit/query.ts';
import type { Store } from '../../store/types.ts';
import type { PolicyEngine } from '../engine.ts';
import { unrecordedReads } from '../replay-input.ts';
import type { PolicyDecision, PolicyDirectory } from '../types.ts';
import { replayRecord, type ReplayParse } from './replay-record.ts';
import { engineFromDirectory, reportProblems, type CommandResult } from './shared.ts';

export { replayLine } from './replay-record.ts';

export interface PolicyDiffOptions {
  /** Directory with the policies in force now. */
  current: string;
  /** Directory with the candidate policies. */
  candidate: string;
  /** JSON-lines file of recorded decisions. */
  replay?: string;
  /** Or: the `policy.decision` records of the audit log in a time window. */
  audit?: { store: Store; since?: Date; until?: Date; limit?: number };
  /** Role hierarchy, route groups and operations (from the configuration). */
  directory?: PolicyDirectory;
}

interface Source { label: string; parsed: ReplayParse }

async function* fromFile(file: string): AsyncGenerator<Source> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      yield { label: `${file}:${n}`, parsed: { ok: false, problem: (err as Error).message } };
      continue;
    }
    yield { label: `${file}:${n}`, parsed: replayRecord(json) };
  }
}

async function* fromAudit(a: NonNullable<PolicyDiffOptions['audit']>): AsyncGenerator<Source> {
  const q = { event: 'policy.decision', ...(a.since ? { since: a.since } : {}), ...(a.until ? { until: a.until } : {}), ...(a.limit ? { limit: a.limit } : {}) };
  for await (const r of queryAudit(a.store, q)) yield { label: `audit ${r.chain}#${r.seq}`, parsed: replayRecord(r) };
}

function verdict(allowed: boolean): string {
  return allowed ? 'allow' : 'deny';
}

function why(d: PolicyDecision): string {
  return d.reasons.length > 0 ? `${d.basis}: ${d.reasons.join(', ')}` : d.basis;
}

export async function policyDiffCommand(o: PolicyDiffOptions): Promise<CommandResult> {
  if ((o.replay === undefined) === (o.audit === undefined)) return { exitCode: 2, output: 'give exactly one source of recorded decisions: a replay file or the audit log (--since)' };
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
  let uncertain = 0;
  let withoutInput = 0;
  try {
    for await (const { label, parsed } of o.replay !== undefined ? fromFile(o.replay) : fromAudit(o.audit!)) {
      if (!parsed.ok && parsed.noInput) {
        withoutInput++;
        continue;
      }
      if (!parsed.ok) {
        errors.push(`${label}: ${parsed.problem}`);
        continue;
      }
      total++;
      const { request, recorded } = parsed.record;
      const after = candidate.authorize(request);
      const beforeAllowed = parsed.record.allowed ?? current.authorize(request).allowed;
      const set = request.policySet === undefined ? undefined : candidate.getSet(request.policySet);
      const missing = recorded !== undefined && set !== undefined ? unrecordedReads(set.references, recorded) : [];
      if (missing.length > 0) uncertain++;
      if (beforeAllowed !== after.allowed) {
        const name = parsed.record.decisionId ?? label;
        const note = missing.length > 0 ? ` [not recorded, replayed as absent: ${missing.join(', ')}]` : '';
        changes.push(`${name}: ${after.principal} ${after.action} ${after.resource}: ${verdict(beforeAllowed)} → ${verdict(after.allowed)} (${why(after)})${note}`);
      }
    }
  } catch (err) {
    return { exitCode: 2, output: `${o.replay ?? 'audit log'}: ${(err as Error).message}` };
  }
  const summary = [`# ${total} decisions replayed, ${changes.length} would change`];
  if (uncertain > 0) summary.push(`${uncertain} replayed without facts the candidate reads (not recorded because the policies in force did not read them)`);
  if (withoutInput > 0) summary.push(`${withoutInput} skipped (recorded without inputs)`);
  if (errors.length > 0) summary.push(`${errors.length} records unreadable`);
  const out = [...changes, summary.join(', '), ...errors];
  return { exitCode: errors.length > 0 ? 2 : changes.length > 0 ? 1 : 0, output: out.join('\n') };
}
