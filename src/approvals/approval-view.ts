/** What an approver (and the CLI) is shown of an approval: the exact request, its state and deadlines. */
import type { ApprovalRow } from '../store/repos/approvals-repo.ts';

export interface ApprovalView {
  id: string;
  status: string;
  routeId: string;
  requester: string;
  request: {
    method: string; host: string; path: string; query: string;
    /** Content-Type and Content-Encoding as bound (null: the request had none, and the one that uses it must have none). */
    contentType: string | null; contentEncoding: string | null;
    bodySha256: string; bodyBytes: number;
  };
  approver: string | null;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  useBy: string | null;
  usedAt: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

/** A pending or approved approval past its deadline reads as expired, whether or not the row says so yet. */
export function approvalView(row: ApprovalRow, now: number): ApprovalView {
  let status: string = row.status;
  if ((status === 'pending' && row.expires_at <= now) || (status === 'approved' && row.use_by !== null && row.use_by <= now)) status = 'expired';
  return {
    id: row.id, status, routeId: row.route_id, requester: row.requester,
    request: {
      method: row.method, host: row.host, path: row.path, query: row.query,
      contentType: row.content_type, contentEncoding: row.content_encoding,
      bodySha256: row.body_sha256, bodyBytes: Number(row.body_bytes),
    },
    approver: row.approver,
    createdAt: iso(row.created_at)!, expiresAt: iso(row.expires_at)!, decidedAt: iso(row.decided_at), useBy: iso(row.use_by), usedAt: iso(row.used_at),
  };
}
