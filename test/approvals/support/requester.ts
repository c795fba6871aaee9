/**
 * One requester and one approver against an approvals gateway: what the suites about using and
 * giving back an approval share (ask, approve, use, read the row and the audit trail).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { queryAudit } from '../../../src/audit/query.ts';
import { errorOf, type ApprovalsGateway } from './approvals-gateway.ts';

export type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

export interface Requester {
  /** A request as the requester, with a JSON body when one is given. */
  call(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<Reply>;
  /** POST with `Gatehouse-Approval: id`. */
  use(path: string, body: string, id: string): Promise<Reply>;
  /** The requester asks (held: ERR_APPROVAL_PENDING), the approver approves; the approval id. */
  approved(path: string, body: string): Promise<string>;
  /** The details of the audit records of `event` about approval `id`, once at least `count` are there (10 s at most). */
  audited(event: string, id: string, count: number): Promise<Record<string, unknown>[]>;
}

export function requester(t: () => ApprovalsGateway, names: { requester: string; approver: string }): Requester {
  const call: Requester['call'] = (method, path, body, headers = {}) =>
    t().gw.fetch(path, { method, headers: { authorization: `Bearer ${t().tokens[names.requester]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, ...(body !== undefined ? { body } : {}) });
  return {
    call,
    use: (path, body, id) => call('POST', path, body, { 'gatehouse-approval': id }),
    async approved(path, body) {
      const held = await call('POST', path, body);
      assert.equal(errorOf(held).code, 'ERR_APPROVAL_PENDING', held.body);
      const id = errorOf(held).approvalId!;
      const r = await t().gw.fetch(`/_gatehouse/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${t().tokens[names.approver]}` } });
      assert.equal(r.status, 200, r.body);
      return id;
    },
    async audited(event, id, count) {
      let found: Record<string, unknown>[] = [];
      for (const deadline = Date.now() + 10_000; found.length < count && Date.now() < deadline; await sleep(100)) {
        found = [];
        for await (const r of queryAudit(t().store, { event })) {
          const details = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>;
          if (details.approvalId === id) found.push(details);
        }
      }
      return found;
    },
  };
}
