/**
 * `gatehouse policy explain --decision ID`: resolves the decision id a denied client got in
 * its 403 body (`error.decisionId`) to its reasons, through the audit log.
 *
 * It reads the `policy.decision` record through the audit area's query, renders the
 * decision as recorded (basis, determining policies, errors, set version) and, given the
 * policy directory in force, quotes the policies when the version is unchanged and says
 * what the policies in force would decide today on the recorded inputs.
 *
 * Exit code 0 when found, 1 when no such decision is in the audit log, 2 on bad input.
 */
import { queryAudit } from '../../audit/query.ts';
import type { AuditRecord } from '../../audit/record.ts';
import type { Store } from '../../store/types.ts';
import type { PolicyEngine } from '../engine.ts';
import { explainDecision } from '../explain.ts';
import type { PolicyDirectory } from '../types.ts';
import { decisionFromEvent, parseDecisionEvent, replayRecord, type ParsedDecisionEvent } from './replay-record.ts';
import { engineFromDirectory, reportProblems, type CommandResult } from './shared.ts';

export interface PolicyExplainDecisionOptions {
  store: Store;
  decisionId: string;
  /** Only records from this time on (a decision id is searched among `policy.decision` records). */
  since?: Date;
  /** Policy directory in force: quotes policy text and re-evaluates the recorded inputs. */
  policies?: string;
  directory?: PolicyDirectory;
}

const DECISION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The audit record of a decision, by id. The audit query has no decision-id filter yet, so
 * this scans the `policy.decision` records (from `since`, when given).
 */
export async function findDecisionRecord(store: Store, decisionId: string, options: { since?: Date } = {}): Promise<{ record: AuditRecord; event: ParsedDecisionEvent } | undefined> {
  for await (const record of queryAudit(store, { event: 'policy.decision', ...(options.since ? { since: options.since } : {}) })) {
    if (record.decisionId !== decisionId) continue;
    const parsed = parseDecisionEvent(record);
    if (parsed.ok) return { record, event: parsed.event };
  }
  return undefined;
}

export async function policyExplainDecisionCommand(o: PolicyExplainDecisionOptions): Promise<CommandResult> {
  if (!DECISION_ID.test(o.decisionId)) return { exitCode: 2, output: 'decision id: expected the id from the 403 body (letters, digits, -)' };
  let found;
  try {
    found = await findDecisionRecord(o.store, o.decisionId, o.since ? { since: o.since } : {});
  } catch (err) {
    return { exitCode: 2, output: `audit log: ${(err as Error).message}` };
  }
  if (!found) return { exitCode: 1, output: `decision ${o.decisionId}: not in the audit log${o.since ? ` since ${o.since.toISOString()}` : ''}` };
  const { record, event } = found;

  let engine: PolicyEngine | undefined;
  const notes: string[] = [];
  if (o.policies !== undefined) {
    try {
      const loaded = await engineFromDirectory(o.policies, o.directory ?? {});
      engine = loaded.engine;
      for (const p of reportProblems(loaded.report)) notes.push(`warning: ${p}`);
    } catch (err) {
      return { exitCode: 2, output: `${o.policies}: ${(err as Error).message}` };
    }
  }

  const decision = decisionFromEvent(event, record.time);
  const set = engine && decision.policySet !== undefined ? engine.getSet(decision.policySet) : undefined;
  const lines = [explainDecision(decision, set)];
  lines.push(`  recorded: ${new Date(record.time).toISOString()}${event.requestId ? `, request ${event.requestId}` : ''}${event.routeId ? `, route ${event.routeId}` : ''} (audit ${record.chain}#${record.seq})`);
  if (event.input) {
    const i = event.input;
    lines.push(`  inputs: roles [${i.principal.roles.join(', ')}], attributes ${JSON.stringify(i.principal.attributes)}, context ${JSON.stringify(i.context)}`);
    if (engine) {
      const replay = replayRecord(event);
      if (replay.ok) {
        const today = engine.authorize(replay.record.request);
        const same = today.allowed === decision.allowed;
        lines.push(`  today: the policies in force would ${same ? 'decide the same' : `${today.allowed ? 'ALLOW' : 'DENY'} instead`} (${today.basis}${today.reasons.length ? `: ${today.reasons.join(', ')}` : ''}${today.policySetVersion ? `, version ${today.policySetVersion}` : ''})`);
      }
    }
  } else {
    lines.push('  inputs: not recorded');
  }
  return { exitCode: 0, output: [...lines, ...notes].join('\n') };
}
