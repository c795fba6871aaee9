/**
 * `gatehouse approvals list|show` — read-only look at two-person approvals (docs/approvals.md).
 * Deciding is deliberately not a CLI command: an approver must be an authenticated principal
 * holding an approver role (the /_gatehouse/approvals API), not whoever can open the store.
 */
import type { Command } from 'commander';
import { GatehouseError } from '../../core/errors.ts';
import { approvalView, type ApprovalView } from '../../approvals/approval-view.ts';
import { isApprovalId } from '../../approvals/approval-id.ts';
import { createApprovalsRepo } from '../../store/repos/approvals-repo.ts';
import type { ApprovalStatus } from '../../store/tables/approvals.ts';
import { READS_EXISTING_STORE, withCliContext } from '../context.ts';
import { action, cell, emit, formatRecord, formatTable, printableLines } from '../output.ts';
import { positiveInt, stateful, type StateOptions } from '../options.ts';

const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'used', 'expired'];

export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('look at two-person approvals (read-only)');

  stateful(approvals.command('list')
    .description('list approvals, newest first')
    .option('--status <status>', `only this stored status (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'most approvals shown (default 100)', positiveInt))
    .action(action(async (o: StateOptions & { status?: string; limit?: number }) => {
      if (o.status !== undefined && !STATUSES.includes(o.status as ApprovalStatus)) {
        throw new GatehouseError('ERR_CONFIG_INVALID', { publicMessage: `--status must be one of ${STATUSES.join(', ')}` });
      }
      const rows = await withCliContext(o, async (ctx) => createApprovalsRepo(ctx.store.db).list({
        ...(o.status ? { status: o.status as ApprovalStatus } : {}), ...(o.limit ? { limit: o.limit } : {}),
      }), undefined, READS_EXISTING_STORE);
      const now = Date.now();
      const views = rows.map((r) => approvalView(r, now));
      emit(o.json, views, () => formatTable(views, [
        { header: 'id', value: (v) => v.id }, { header: 'status', value: (v) => v.status }, { header: 'route', value: (v) => v.routeId },
        { header: 'requester', value: (v) => v.requester }, { header: 'request', value: (v) => `${v.request.method} ${v.request.host}${v.request.path}${v.request.query ? '?' + v.request.query : ''}` },
        { header: 'approver', value: (v) => v.approver ?? '' }, { header: 'created', value: (v) => v.createdAt },
      ]));
    }));

  stateful(approvals.command('show')
    .argument('<id>', 'approval id (apv_…)')
    .description('show one approval: exactly what is asked (with the body, as text when it is text), its status, who decided and when'))
    .action(action(async (id: string, o: StateOptions) => {
      if (!isApprovalId(id)) throw new GatehouseError('ERR_APPROVAL_NOT_FOUND', { detail: 'malformed id' });
      const row = await withCliContext(o, async (ctx) => createApprovalsRepo(ctx.store.db).getWithBody(id), undefined, READS_EXISTING_STORE);
      if (row === undefined) throw new GatehouseError('ERR_APPROVAL_NOT_FOUND', { detail: id });
      const v = approvalView(row, Date.now());
      emit(o.json, v, () => formatRecord([
        ['id', v.id], ['status', v.status], ['route', v.routeId], ['requester', v.requester],
        ['method', v.request.method], ['host', v.request.host], ['path', v.request.path], ['query', v.request.query],
        ['content type', v.request.contentType ?? ''], ['content encoding', v.request.contentEncoding ?? ''],
        ['body sha-256', v.request.bodySha256], ['body bytes', v.request.bodyBytes], ['approver', v.approver ?? ''],
        ['created', v.createdAt], ['expires', v.expiresAt], ['decided', v.decidedAt ?? ''], ['use by', v.useBy ?? ''], ['used', v.usedAt ?? ''], ['used by request', v.usedRequestId ?? ''],
      ]) + '\n' + formatBody(v));
    }));
}

/**
 * The held body under the record: each line behind `| ` (a line in the body cannot pass for a
 * field of the record), through printableLines (no escape sequence reaches the terminal). A body
 * that is not text is described, never printed: its bytes are in the approvers' JSON API only.
 */
function formatBody(v: ApprovalView): string {
  const body = v.request.body;
  switch (body?.kind) {
    case 'text': return body.text === '' ? 'body: (empty)' : `body:\n${printableLines(body.text).map((l) => `  | ${l}`).join('\n')}`;
    case 'binary': {
      const encoding = v.request.contentEncoding === null ? '' : `, content encoding ${cell(v.request.contentEncoding)}`;
      return `body: not text (${v.request.contentType === null ? 'no content type' : cell(v.request.contentType)}${encoding}, ${v.request.bodyBytes} bytes, sha-256 ${v.request.bodySha256}); not printed`;
    }
    case 'erased': return `body: erased ${body.erasedAt}, when the approval could no longer be used; only its sha-256 is known`;
    default: return 'body: not stored (held before bodies were kept with approvals); only its sha-256 is known';
  }
}
