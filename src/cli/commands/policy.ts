/**
 * `gatehouse policy explain|test|diff` — "why was this denied", policy unit tests, and the
 * decisions a candidate policy would change. Exit codes come from the policy commands:
 * 0 allow / all pass / no change, 1 deny / a failing case / some change, 2 unreadable input.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { policyDiffCommand } from '../../policy/commands/diff.ts';
import { policyExplainCommand } from '../../policy/commands/explain.ts';
import { directoryOf, formatZodError, policyDir, requestContextSchema, type CommandResult } from '../../policy/commands/shared.ts';
import { policyTestCommand } from '../../policy/commands/test.ts';
import type { PolicyRequestContext } from '../../policy/types.ts';
import { parseIsoTime } from '../../core/iso-time.ts';
import { loadCliConfig, withCliContext } from '../context.ts';
import { policyExplainDecisionCommand } from '../../policy/commands/explain-decision.ts';
import { action } from '../output.ts';
import { collect } from '../options.ts';

/** Prints a policy command's text (stderr when the input was unusable) and takes over its exit code. */
function finish(result: CommandResult): void {
  (result.exitCode === 2 ? process.stderr : process.stdout).write(`${result.output}\n`);
  process.exitCode = result.exitCode;
}

/** Bad input to `explain` is exit code 2, like the policy commands' own input errors. */
function badInput(message: string): CommandResult {
  return { exitCode: 2, output: message };
}

function parseJsonOption<T>(name: string, text: string | undefined, schema: z.ZodType<T>): { value?: T; problem?: string } {
  if (text === undefined) return {};
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (err) { return { problem: `${name}: not JSON (${(err as Error).message})` }; }
  const parsed = schema.safeParse(raw);
  return parsed.success ? { value: parsed.data } : { problem: `${name}: ${formatZodError(parsed.error)}` };
}

const attributesSchema = z.record(z.string(), z.unknown());

interface ExplainOptions {
  config?: string;
  principal: string;
  role?: string[];
  attributes?: string;
  context?: string;
  method: string;
  url: string;
  at?: string;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('explain, test and compare authorization policies');

  policy.command('explain')
    .description('explain a decision: a hypothetical request (--principal/--method/--url: routed with the real router; exit 0 allow, 1 deny), or a recorded one by the decision id of a 403 (--decision, resolved through the audit log)')
    .option('-c, --config <file>', 'configuration file (default: ./gatehouse.yaml if present, else built-in defaults)')
    .option('--decision <id>', 'decision id from a denied response; its reasons are read from the audit log')
    .option('--since <time>', 'with --decision: search the audit log from this ISO 8601 time')
    .option('--principal <spec>', 'user:<id> or service:<id>')
    .option('--role <role>', 'role of the principal (repeatable, or comma-separated)', collect)
    .option('--attributes <json>', 'principal attributes as a JSON object')
    .option('--context <json>', 'request context facts as JSON (clientAddress, amr, mfaTime, spiffeId, headers…)')
    .option('--method <method>', 'HTTP method')
    .option('--url <url>', '/path?query, or https://host/path for host-based routes')
    .option('--at <time>', 'evaluate at this ISO 8601 time (time-based policies)')
    .action(action(async (o: ExplainOptions & { decision?: string; since?: string }) => {
      if (o.decision !== undefined) {
        const sinceMs = o.since === undefined ? undefined : parseIsoTime(o.since);
        if (o.since !== undefined && sinceMs === undefined) return finish(badInput(`--since: "${o.since}" is not a time`));
        const since = sinceMs === undefined ? undefined : new Date(sinceMs);
        await withCliContext({ ...(o.config ? { config: o.config } : {}) }, async (ctx) => {
          finish(await policyExplainDecisionCommand({
            store: ctx.store, decisionId: o.decision!, ...(since ? { since } : {}),
            policies: policyDir(ctx.configFile, ctx.config.policy.dir), directory: directoryOf(ctx.config.policy),
          }));
        });
        return;
      }
      if (!o.principal || !o.method || !o.url) return finish(badInput('give --decision ID, or --principal, --method and --url'));
      const attributes = parseJsonOption('--attributes', o.attributes, attributesSchema);
      const context = parseJsonOption('--context', o.context, requestContextSchema);
      const problem = attributes.problem ?? context.problem;
      if (problem) return finish(badInput(problem));
      const now = o.at === undefined ? undefined : parseIsoTime(o.at);
      if (o.at !== undefined && now === undefined) return finish(badInput(`--at: "${o.at}" is not a time`));
      const loaded = await loadCliConfig(o.config);
      finish(await policyExplainCommand({
        config: loaded.config, ...(loaded.source ? { configFile: loaded.source } : {}),
        principal: o.principal, method: o.method, url: o.url,
        ...(o.role ? { roles: o.role } : {}), ...(attributes.value ? { attributes: attributes.value } : {}),
        // Parsed from JSON, so absent keys are absent (never undefined), as the engine's exact types want.
        ...(context.value ? { context: context.value as PolicyRequestContext } : {}),
        ...(now !== undefined ? { now } : {}),
      }));
    }));

  policy.command('test')
    .argument('<file>', 'policy test cases (YAML or JSON)')
    .description('run policy test cases; exit 1 when any case does not hold (with the explanation)')
    .action(action(async (file: string) => {
      finish(await policyTestCommand(file));
    }));

  policy.command('diff')
    .description('replay recorded requests under a candidate policy directory and list every decision that would change (exit 1 when any would)')
    .option('-c, --config <file>', 'configuration file giving the current policy directory and role hierarchy (default: ./gatehouse.yaml if present)')
    .requiredOption('--candidate <dir>', 'directory of candidate policy sets')
    .option('--replay <file>', 'recorded requests, one JSON object a line')
    .option('--since <time>', 'replay the decisions recorded in the audit log from this ISO 8601 time (instead of --replay)')
    .option('--until <time>', 'with --since: up to this time')
    .option('--current <dir>', 'directory of the policies in force (default: policy.dir of the configuration)')
    .action(action(async (o: { config?: string; candidate: string; replay?: string; since?: string; until?: string; current?: string }) => {
      if ((o.replay === undefined) === (o.since === undefined)) return finish(badInput('give exactly one of --replay FILE or --since TIME'));
      if (o.replay !== undefined) {
        const loaded = await loadCliConfig(o.config);
        finish(await policyDiffCommand({
          current: o.current ?? policyDir(loaded.source, loaded.config.policy.dir),
          candidate: o.candidate, replay: o.replay, directory: directoryOf(loaded.config.policy),
        }));
        return;
      }
      const sinceMs = parseIsoTime(o.since!);
      const untilMs = o.until === undefined ? undefined : parseIsoTime(o.until);
      if (sinceMs === undefined || (o.until !== undefined && untilMs === undefined)) return finish(badInput('--since/--until: not a time'));
      const since = new Date(sinceMs);
      const until = untilMs === undefined ? undefined : new Date(untilMs);
      await withCliContext({ ...(o.config ? { config: o.config } : {}) }, async (ctx) => {
        finish(await policyDiffCommand({
          current: o.current ?? policyDir(ctx.configFile, ctx.config.policy.dir),
          candidate: o.candidate, audit: { store: ctx.store, since, ...(until ? { until } : {}) }, directory: directoryOf(ctx.config.policy),
        }));
      });
    }));
}
