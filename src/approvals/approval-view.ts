/** What an approver (and the CLI) is shown of an approval: the exact request, its state and deadlines. */
import type { ApprovalRow, ApprovalSummary } from '../store/repos/approvals-repo.ts';
import { bodyAsText } from './body-text.ts';

/**
 * The held request's body as an approver reads it: the text when it is textual and valid UTF-8
 * (body-text.ts); otherwise only its size, digest and content type (beside it in `request`),
 * with the bytes base64-encoded where the view is asked for them (the approvers' JSON API).
 */
export type ApprovalBodyView =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; base64?: string }
  /** Held before bodies were kept with approvals (migration 0014): only the digest is known. */
  | { kind: 'not-stored' }
  /** Erased when the approval could no longer be used (used, denied, expired): only the digest is known. */
  | { kind: 'erased'; erasedAt: string };

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
    /** Present when the view is of one approval with its body (not in lists). */
    body?: ApprovalBodyView;
  };
  approver: string | null;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  useBy: string | null;
  usedAt: string | null;
  /** Request id of the request that used it (`gateway.request`, `approval.used`). */
  usedRequestId: string | null;
}

export interface ApprovalViewOptions {
  /** Whether a body that is not shown as text comes base64-encoded (the JSON API) or not at all (the CLI). */
  binaryBody?: 'base64' | 'omit';
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

function bodyView(row: ApprovalRow, binary: 'base64' | 'omit'): ApprovalBodyView {
  if (row.body === null) return row.body_erased_at === null ? { kind: 'not-stored' } : { kind: 'erased', erasedAt: iso(row.body_erased_at)! };
  const bytes = Buffer.from(row.body, 'base64url');
  const text = bodyAsText(bytes, row.content_type, row.content_encoding);
  if (text !== undefined) return { kind: 'text', text };
  return binary === 'base64' ? { kind: 'binary', base64: bytes.toString('base64') } : { kind: 'binary' };
}

/**
 * A pending or approved approval past its deadline reads as expired, whether or not the row says so yet.
 * A row read with its body (`getWithBody`) is shown with it.
 */
export function approvalView(row: ApprovalSummary | ApprovalRow, now: number, options: ApprovalViewOptions = {}): ApprovalView {
  let status: string = row.status;
  if ((status === 'pending' && row.expires_at <= now) || (status === 'approved' && row.use_by !== null && row.use_by <= now)) status = 'expired';
  return {
    id: row.id, status, routeId: row.route_id, requester: row.requester,
    request: {
      method: row.method, host: row.host, path: row.path, query: row.query,
      contentType: row.content_type, contentEncoding: row.content_encoding,
      bodySha256: row.body_sha256, bodyBytes: Number(row.body_bytes),
      ...('body' in row ? { body: bodyView(row, options.binaryBody ?? 'omit') } : {}),
    },
    approver: row.approver,
    createdAt: iso(row.created_at)!, expiresAt: iso(row.expires_at)!, decidedAt: iso(row.decided_at), useBy: iso(row.use_by), usedAt: iso(row.used_at),
    usedRequestId: row.used_request_id,
  };
}
