/**
 * `gatehouse audit query|export|verify|checkpoint export|keygen|prune` and
 * `gatehouse alerts [list]|blocks|block|unblock`. The work is done by the command functions
 * in src/audit/commands and src/detect/commands; this file only parses and prints.
 */
import type { Command } from 'commander';
import { auditQueryCommand, type AuditQueryOptions } from '../../audit/commands/query.ts';
import { auditExportCommand, type ExportTarget } from '../../audit/commands/export.ts';
import { auditVerifyCommand } from '../../audit/commands/verify.ts';
import { auditCheckpointExportCommand } from '../../audit/commands/checkpoint-export.ts';
import { auditKeygenCommand } from '../../audit/commands/keygen.ts';
import { auditPruneCommand } from '../../audit/commands/prune.ts';
import { alertsListCommand, blockAddCommand, blockListCommand, blockLiftCommand } from '../../detect/commands/alerts.ts';
import { resolveBlockSubject, resolveLiftSubject } from '../../detect/commands/block-subject.ts';
import { GatehouseError } from '../../core/errors.ts';
import { READS_EXISTING_STORE, withCliContext } from '../context.ts';
import { action, cell, emit, formatRecord, formatTable, terminalSafeJson } from '../output.ts';
import { collect, positiveInt, stateful, type StateOptions } from '../options.ts';

function filters(cmd: Command): Command {
  return cmd
    .option('--since <time>', 'ISO 8601 time, or 15m / 2h / 7d back from now')
    .option('--until <time>', 'ISO 8601 time, or 15m / 2h / 7d back from now (exclusive)')
    .option('--actor <subject>', 'actor subject (user id, service id, account name)')
    .option('--action <action>', 'action, e.g. gateway.request or identity.login.failed')
    .option('--outcome <outcome>', 'success | failure | denied | error | info')
    .option('--request-id <id>', 'request id')
    .option('--chain <name>', 'only this chain')
    .option('--limit <n>', 'at most this many records', positiveInt);
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('query, export and verify the tamper-evident audit log');

  filters(stateful(audit.command('query').description('print matching records as JSON lines')))
    .action(action(async (o: StateOptions & AuditQueryOptions) => {
      await withCliContext(o, (ctx) => auditQueryCommand(ctx.store, o, process.stdout, ctx.config.audit.redact), undefined, READS_EXISTING_STORE);
    }));

  filters(stateful(audit.command('export').description('send matching records as JSON lines (stdout) or to the configured syslog / OTLP endpoint')
    .option('--to <target>', 'jsonl | syslog | otlp', 'jsonl')))
    .action(action(async (o: StateOptions & AuditQueryOptions & { to: ExportTarget }) => {
      const r = await withCliContext(o, (ctx) => auditExportCommand(ctx.store, ctx.config.audit, o, process.stdout, ctx.logger), undefined, READS_EXISTING_STORE);
      if (o.to !== 'jsonl') process.stderr.write(`exported ${r.exported} records to ${r.to}\n`);
    }));

  stateful(audit.command('verify').description('recompute every hash and checkpoint signature; exit 1 on any tampering')
    .option('--chain <name>', 'only this chain')
    .option('--public-key <file>', 'also trust this public JWK (repeatable)', collect)
    .option('--checkpoints <file>', 'also hold the chain to the checkpoints in this `audit checkpoint export` file (its keys are not trusted)'))
    .action(action(async (o: StateOptions & { chain?: string; publicKey?: string[]; checkpoints?: string }) => {
      const r = await withCliContext(o, (ctx) => auditVerifyCommand(ctx.store, ctx.config, { ...(o.chain ? { chain: o.chain } : {}), ...(o.publicKey ? { publicKeys: o.publicKey } : {}), ...(o.checkpoints ? { checkpointsFile: o.checkpoints } : {}) }), undefined, READS_EXISTING_STORE);
      emit(o.json, r.report, () => r.output);
      process.exitCode = r.exitCode;
    }));

  const checkpoint = audit.command('checkpoint').description('signed checkpoints of the hash chain');
  stateful(checkpoint.command('export').description('print every checkpoint and the public keys that verify them (JSON), for anchoring outside Gatehouse')
    .option('--chain <name>', 'only this chain'))
    .action(action(async (o: StateOptions & { chain?: string }) => {
      const r = await withCliContext(o, (ctx) => auditCheckpointExportCommand(ctx.store, ctx.config, o.chain ? { chain: o.chain } : {}), undefined, READS_EXISTING_STORE);
      // Always JSON (it is the anchor), with stored chain names and key ids terminal-safe.
      process.stdout.write(`${terminalSafeJson(r, 2)}\n`);
    }));

  audit.command('keygen').description('create a new Ed25519 checkpoint signing key (private JWK, mode 0600)')
    .requiredOption('--out <file>', 'file to create (never overwritten)')
    .option('--json', 'print JSON')
    .action(action(async (o: { out: string; json?: boolean }) => {
      const r = await auditKeygenCommand(o.out);
      emit(o.json, r, () => formatRecord([['written to', r.file], ['kid', r.kid], ['public key', JSON.stringify(r.publicJwk)]]));
    }));

  stateful(audit.command('prune').description('delete records older than the retention (up to a checkpoint; verification starts from it)')
    .option('--older-than <days>', 'days (default audit.retention.maxAgeDays)', positiveInt))
    .action(action(async (o: StateOptions & { olderThan?: number }) => {
      const r = await withCliContext(o, (ctx) => auditPruneCommand(ctx.store, ctx.config, o.olderThan ? { olderThanDays: o.olderThan } : {}),
        { action: 'audit.prune', details: { olderThanDays: o.olderThan }, result: (p) => ({ resource: `chain:${p.chain}`, details: { cutAt: p.cutAt, deletedRecords: p.deletedRecords, deletedCheckpoints: p.deletedCheckpoints } }) });
      emit(o.json, r, () => formatRecord([
        ['chain', r.chain], ['cut at checkpoint', r.cutAt ?? '-'], ['records deleted', r.deletedRecords], ['checkpoints deleted', r.deletedCheckpoints],
        // Where the chain stopped proving itself: retention goes no further until `audit verify` has been looked at.
        ...(r.heldAt ? [['held at record', `${r.heldAt.seq} (${r.heldAt.reason}; run gatehouse audit verify)`] as const] : []),
      ]));
    }));
}

export function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').description('anomaly detection: alerts and temporary blocks');

  stateful(alerts.command('list', { isDefault: true }).description('recent alerts, newest first')
    .option('--since <time>', 'ISO 8601 time, or 15m / 2h / 7d back from now')
    .option('--limit <n>', 'at most this many', positiveInt))
    .action(action(async (o: StateOptions & { since?: string; limit?: number }) => {
      const rows = await withCliContext(o, (ctx) => alertsListCommand(ctx.store, o), undefined, READS_EXISTING_STORE);
      emit(o.json, rows, () => formatTable(rows, [
        { header: 'time', value: (a) => new Date(a.createdAt) }, { header: 'rule', value: (a) => a.rule }, { header: 'severity', value: (a) => a.severity },
        { header: 'key', value: (a) => `${a.keyKind}:${a.key}` }, { header: 'count', value: (a) => a.count }, { header: 'actions', value: (a) => a.actions }, { header: 'id', value: (a) => a.id },
      ]));
    }));

  stateful(alerts.command('blocks').description('active blocks (with --all: also lifted and expired)').option('--all', 'include inactive blocks'))
    .action(action(async (o: StateOptions & { all?: boolean }) => {
      const rows = await withCliContext(o, (ctx) => blockListCommand(ctx.store, { all: o.all === true }), undefined, READS_EXISTING_STORE);
      emit(o.json, rows, () => formatTable(rows, [
        { header: 'kind', value: (b) => b.kind }, { header: 'value', value: (b) => b.value }, { header: 'until', value: (b) => new Date(b.expiresAt) },
        { header: 'reason', value: (b) => b.reason }, { header: 'by', value: (b) => b.createdBy }, { header: 'lifted', value: (b) => (b.liftedAt ? new Date(b.liftedAt) : '') }, { header: 'id', value: (b) => b.id },
      ]));
    }));

  stateful(alerts.command('block').description('block a client address or subject on every instance')
    .option('--address <ip>', 'client address, an IPv6 prefix /32…/64 (2001:db8:1:2::/64, 2001:db8:1::/48) or an IPv4 prefix /8…/32 (198.51.100.0/24)').option('--subject <id>', 'principal id (usr_…, client id, SPIFFE id, <issuer>#<sub>) or a user name or e-mail (blocked by its id)')
    .requiredOption('--for <minutes>', 'duration in minutes', positiveInt)
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .requiredOption('--by <admin>', 'who is blocking (recorded)'))
    .action(action(async (o: StateOptions & { address?: string; subject?: string; for: number; reason: string; by: string }) => {
      const target = targetOf(o);
      let from: string | undefined;
      const b = await withCliContext(o, async (ctx) => {
        // A user name resolves to the user's id: a block on the name would match nothing.
        const resolved = target.kind === 'subject' ? await resolveBlockSubject(ctx.store, target.value) : { id: target.value };
        from = resolved.from;
        return blockAddCommand(ctx, { ...target, value: resolved.id, durationMs: o.for * 60_000, reason: o.reason, by: o.by });
      }, { action: 'alerts.block', resource: target.value, details: { ...target, minutes: o.for, reason: o.reason, by: o.by }, result: (v) => ({ resource: v.id, details: { blocked: v.value } }) });
      emit(o.json, b, () => formatRecord([['blocked', `${b.kind}:${b.value}`], ...(from !== undefined ? [['user', from] as [string, string]] : []), ['until', new Date(b.expiresAt)], ['id', b.id]]));
    }));

  stateful(alerts.command('unblock').description('lift a block (by id, or every active block on a subject, or on an address or inside a prefix)')
    .option('--id <blockId>', 'block id').option('--address <ip>', 'client address, or an IPv6 prefix /32…/64 or IPv4 prefix /8…/32: lifts every active block inside it (refused, lifting nothing, when a wider active block holds it)').option('--subject <id>', 'subject')
    .requiredOption('--by <admin>', 'who is lifting it (recorded)'))
    .action(action(async (o: StateOptions & { id?: string; address?: string; subject?: string; by: string }) => {
      const target = o.id ? { id: o.id } : targetOf(o);
      const lifted = await withCliContext(o, async (ctx) => blockLiftCommand(ctx, 'kind' in target && target.kind === 'subject' ? { ...target, value: (await resolveLiftSubject(ctx.store, target.value)).id } : target, o.by),
        { action: 'alerts.unblock', resource: 'id' in target ? target.id : target.value, details: { ...target, by: o.by }, result: (v) => ({ details: { lifted: v.map((b) => b.id) } }) });
      emit(o.json, lifted, () => (lifted.length ? lifted.map((b) => `lifted ${b.kind}:${cell(b.value)} (${cell(b.id)})`).join('\n') : 'no active block matched'));
    }));
}

function targetOf(o: { address?: string; subject?: string }): { kind: 'address' | 'subject'; value: string } {
  if (o.address && !o.subject) return { kind: 'address', value: o.address };
  if (o.subject && !o.address) return { kind: 'subject', value: o.subject };
  throw new GatehouseError('ERR_DETECT_BLOCK_INVALID', { publicMessage: 'give exactly one of --address or --subject' });
}
