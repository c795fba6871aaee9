/**
 * Two-person approvals in SQL. Every state change is one conditional UPDATE (`… WHERE id = ?
 * AND status = ?` and, for a use, every bound field): of two instances racing to approve or to
 * use the same approval, exactly one changes a row and the other sees zero rows changed.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../database.ts';
import type { ApprovalsTable, ApprovalStatus } from '../tables/approvals.ts';

/** A whole approval, with the held request's body (base64url): what an approver is shown. */
export type ApprovalRow = Selectable<ApprovalsTable>;
/** An approval without its body: what checks, decisions and lists need (a body may be megabytes). */
export type ApprovalSummary = Omit<ApprovalRow, 'body'>;

const SUMMARY_COLUMNS = [
  'id', 'route_id', 'requester', 'requester_issuer', 'method', 'host', 'path', 'query', 'body_sha256', 'body_bytes',
  'content_type', 'content_encoding', 'status', 'approver', 'created_at', 'expires_at', 'decided_at', 'use_by', 'used_at', 'used_request_id',
] as const satisfies readonly (keyof ApprovalSummary)[];

/** What a request asked for: an approval is good only for a request equal in all of it. */
export interface ApprovalBinding {
  routeId: string;
  requester: string;
  requesterIssuer: string;
  method: string;
  host: string;
  path: string;
  query: string;
  bodySha256: string;
  /** Content-Type and Content-Encoding as sent (trimmed; several fields joined by LF); null when absent, which must stay absent. */
  contentType: string | null;
  contentEncoding: string | null;
}

export interface ApprovalsRepo {
  /** Stores a pending approval with the held request's body (its digest is `bodySha256`). */
  create(input: ApprovalBinding & { id: string; body: Buffer; expiresAt: number }): Promise<ApprovalSummary>;
  get(id: string): Promise<ApprovalSummary | undefined>;
  /** The approval with the held request's body (base64url; null when stored before bodies were kept). */
  getWithBody(id: string): Promise<ApprovalRow | undefined>;
  /** Newest first, without bodies. */
  list(options?: { status?: ApprovalStatus; limit?: number }): Promise<ApprovalSummary[]>;
  /** pending → approved|denied, only while pending and not expired; false when another decision (or expiry) came first. */
  decide(id: string, decision: 'approved' | 'denied', approver: string, now: number, useBy: number | undefined): Promise<boolean>;
  /** approved → used by `requestId` at `now`, only while approved, within use_by and for exactly the bound request; false otherwise. */
  use(id: string, binding: ApprovalBinding, now: number, requestId: string): Promise<boolean>;
  /**
   * used → approved again, with the same use window: the request that used it (`requestId`, at
   * `usedAt`) was refused before it was sent upstream. Only while it is still used by that very
   * request, so a release can never hand back an approval another use holds; false otherwise.
   */
  release(id: string, requestId: string, usedAt: number): Promise<boolean>;
  /** pending|approved past its deadline → expired (so it reads as what it is); false when it is not. */
  expire(id: string, now: number): Promise<boolean>;
  /** How many of the requester's approvals are still open: pending and not expired, or approved and not yet used. */
  countOpen(requester: string, now: number): Promise<number>;
  /** Deletes approvals created before `before` that can no longer change anything (decided and over, used, expired); returns how many. */
  prune(before: number): Promise<number>;
}

export function createApprovalsRepo(db: Kysely<Database>): ApprovalsRepo {
  const get = (id: string) => db.selectFrom('approvals').select(SUMMARY_COLUMNS).where('id', '=', id).executeTakeFirst();
  return {
    async create(input) {
      const row = {
        id: input.id, route_id: input.routeId, requester: input.requester, requester_issuer: input.requesterIssuer,
        method: input.method, host: input.host, path: input.path, query: input.query,
        body_sha256: input.bodySha256, body_bytes: input.body.length, content_type: input.contentType, content_encoding: input.contentEncoding, status: 'pending' as const, approver: null,
        created_at: Date.now(), expires_at: input.expiresAt, decided_at: null, use_by: null, used_at: null, used_request_id: null,
      };
      await db.insertInto('approvals').values({ ...row, body: input.body.toString('base64url') }).execute();
      return row;
    },

    get,

    getWithBody: (id) => db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst(),

    async list(options = {}) {
      let q = db.selectFrom('approvals').select(SUMMARY_COLUMNS).orderBy('created_at', 'desc').limit(options.limit ?? 100);
      if (options.status !== undefined) q = q.where('status', '=', options.status);
      return q.execute();
    },

    async decide(id, decision, approver, now, useBy) {
      const result = await db.updateTable('approvals')
        .set({ status: decision, approver, decided_at: now, use_by: decision === 'approved' ? useBy ?? null : null })
        .where('id', '=', id).where('status', '=', 'pending').where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async use(id, b, now, requestId) {
      const result = await db.updateTable('approvals')
        .set({ status: 'used', used_at: now, used_request_id: requestId })
        .where('id', '=', id).where('status', '=', 'approved').where('use_by', '>', now)
        .where('route_id', '=', b.routeId).where('requester', '=', b.requester).where('requester_issuer', '=', b.requesterIssuer)
        .where('method', '=', b.method).where('host', '=', b.host).where('path', '=', b.path).where('query', '=', b.query)
        .where('body_sha256', '=', b.bodySha256)
        // `= NULL` matches nothing in SQL: an absent field is matched by IS NULL, a present one only by its exact value.
        .where('content_type', b.contentType === null ? 'is' : '=', b.contentType)
        .where('content_encoding', b.contentEncoding === null ? 'is' : '=', b.contentEncoding)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(id, requestId, usedAt) {
      const result = await db.updateTable('approvals')
        .set({ status: 'approved', used_at: null, used_request_id: null })
        .where('id', '=', id).where('status', '=', 'used').where('used_request_id', '=', requestId).where('used_at', '=', usedAt)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async expire(id, now) {
      const result = await db.updateTable('approvals').set({ status: 'expired' })
        .where('id', '=', id)
        .where((eb) => eb.or([
          eb.and([eb('status', '=', 'pending'), eb('expires_at', '<=', now)]),
          eb.and([eb('status', '=', 'approved'), eb('use_by', '<=', now)]),
        ]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async countOpen(requester, now) {
      const row = await db.selectFrom('approvals').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('requester', '=', requester)
        .where((eb) => eb.or([
          eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', now)]),
          eb.and([eb('status', '=', 'approved'), eb('use_by', '>', now)]),
        ]))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async prune(before) {
      // An approval created before `before` whose deadlines are also before it is over whatever its status says.
      const result = await db.deleteFrom('approvals')
        .where('created_at', '<', before)
        .where((eb) => eb.or([
          eb('status', 'in', ['used', 'denied', 'expired']),
          eb.and([eb('status', '=', 'pending'), eb('expires_at', '<', before)]),
          eb.and([eb('status', '=', 'approved'), eb('use_by', '<', before)]),
        ]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
