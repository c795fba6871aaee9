/**
 * Two-person approvals in SQL. Every state change is one conditional UPDATE (`… WHERE id = ?
 * AND status = ?` and, for a use, every bound field): of two instances racing to approve or to
 * use the same approval, exactly one changes a row and the other sees zero rows changed.
 *
 * The held body is kept only while the approval can still be used: the UPDATE that makes it
 * used, denied or expired also erases the body (`body = NULL, body_erased_at = now`), and `sweep`
 * does that for approvals whose deadline passed unnoticed; a release puts the same bytes back
 * with the status.
 */
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { Database } from '../database.ts';
import type { ApprovalsTable, ApprovalStatus } from '../tables/approvals.ts';

/** A whole approval, with the held request's body (base64url): what an approver is shown. */
export type ApprovalRow = Selectable<ApprovalsTable>;
/** An approval without its body: what checks, decisions and lists need (a body may be megabytes). */
export type ApprovalSummary = Omit<ApprovalRow, 'body'>;

const SUMMARY_COLUMNS = [
  'id', 'route_id', 'requester', 'requester_issuer', 'method', 'host', 'path', 'query', 'body_sha256', 'body_bytes',
  'content_type', 'content_encoding', 'status', 'approver', 'created_at', 'expires_at', 'decided_at', 'use_by', 'used_at', 'used_request_id',
  'body_erased_at',
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
  /** The approval with the held request's body (base64url; null once erased — `body_erased_at` — or when stored before bodies were kept). */
  getWithBody(id: string): Promise<ApprovalRow | undefined>;
  /** Newest first, without bodies. */
  list(options?: { status?: ApprovalStatus; limit?: number }): Promise<ApprovalSummary[]>;
  /** pending → approved|denied, only while pending and not expired (a denial erases the body); false when another decision (or expiry) came first. */
  decide(id: string, decision: 'approved' | 'denied', approver: string, now: number, useBy: number | undefined): Promise<boolean>;
  /** approved → used by `requestId` at `now` (erasing the body), only while approved, within use_by and for exactly the bound request; false otherwise. */
  use(id: string, binding: ApprovalBinding, now: number, requestId: string): Promise<boolean>;
  /**
   * used → approved again, with the same use window: the request that used it (`requestId`, at
   * `usedAt`) was refused before it was sent upstream. Only while it is still used by that very
   * request, so a release can never hand back an approval another use holds; false otherwise.
   * `body` is that request's body, which the use matched byte for byte (its digest is bound):
   * kept again for the approvers, as it was before the use erased it.
   */
  release(id: string, requestId: string, usedAt: number, body: Buffer): Promise<boolean>;
  /** pending|approved past its deadline → expired (so it reads as what it is), erasing the body; false when it is not. */
  expire(id: string, now: number): Promise<boolean>;
  /**
   * The sweep: every pending or approved approval past its deadline → expired (its body erased
   * with it), and any body still kept by an approval already over erased. Returns how many
   * approvals it expired and how many bodies of approvals already over it erased.
   */
  sweep(now: number): Promise<{ expired: number; erased: number }>;
  /** How many of the requester's approvals are still open: pending and not expired, or approved and not yet used. */
  countOpen(requester: string, now: number): Promise<number>;
  /** Deletes approvals created before `before` that can no longer change anything (decided and over, used, expired); returns how many. */
  prune(before: number): Promise<number>;
}

/** The columns an UPDATE sets to erase the held body: the digest, size and binding stay for the audit. */
const erased = (now: number) => ({ body: null, body_erased_at: now });

/** Pending past its decision deadline, or approved past its use window. */
const overdue = (eb: ExpressionBuilder<Database, 'approvals'>, now: number) => eb.or([
  eb.and([eb('status', '=', 'pending'), eb('expires_at', '<=', now)]),
  eb.and([eb('status', '=', 'approved'), eb('use_by', '<=', now)]),
]);

export function createApprovalsRepo(db: Kysely<Database>): ApprovalsRepo {
  const get = (id: string) => db.selectFrom('approvals').select(SUMMARY_COLUMNS).where('id', '=', id).executeTakeFirst();
  return {
    async create(input) {
      const row = {
        id: input.id, route_id: input.routeId, requester: input.requester, requester_issuer: input.requesterIssuer,
        method: input.method, host: input.host, path: input.path, query: input.query,
        body_sha256: input.bodySha256, body_bytes: input.body.length, content_type: input.contentType, content_encoding: input.contentEncoding, status: 'pending' as const, approver: null,
        created_at: Date.now(), expires_at: input.expiresAt, decided_at: null, use_by: null, used_at: null, used_request_id: null, body_erased_at: null,
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
        .set({ status: decision, approver, decided_at: now, use_by: decision === 'approved' ? useBy ?? null : null, ...(decision === 'denied' ? erased(now) : {}) })
        .where('id', '=', id).where('status', '=', 'pending').where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async use(id, b, now, requestId) {
      const result = await db.updateTable('approvals')
        .set({ status: 'used', used_at: now, used_request_id: requestId, ...erased(now) })
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

    async release(id, requestId, usedAt, body) {
      const result = await db.updateTable('approvals')
        .set({ status: 'approved', used_at: null, used_request_id: null, body: body.toString('base64url'), body_erased_at: null })
        .where('id', '=', id).where('status', '=', 'used').where('used_request_id', '=', requestId).where('used_at', '=', usedAt)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async expire(id, now) {
      const result = await db.updateTable('approvals').set({ status: 'expired', ...erased(now) })
        .where('id', '=', id)
        .where((eb) => overdue(eb, now))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async sweep(now) {
      const expired = await db.updateTable('approvals').set({ status: 'expired', ...erased(now) })
        .where((eb) => overdue(eb, now))
        .executeTakeFirst();
      // Over but holding a body: only rows that finished before bodies were erased with the status
      // change (the migration erased those, so this is belt and braces for a restored backup).
      const leftover = await db.updateTable('approvals').set(erased(now))
        .where('status', 'in', ['used', 'denied', 'expired']).where('body', 'is not', null)
        .executeTakeFirst();
      return { expired: Number(expired.numUpdatedRows), erased: Number(leftover.numUpdatedRows) };
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
