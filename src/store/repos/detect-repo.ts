/**
 * Storage of detection alerts and temporary blocks. Alerts have deterministic ids, so
 * `insertAlert` reports whether this call created it: only that instance acts on it.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Alert, Block, BlockKind } from '../../detect/types.ts';
import type { Database } from '../database.ts';
import { fromJsonText, toJsonText } from '../json-text.ts';
import type { DetectAlertsTable, DetectBlocksTable } from '../tables/audit.ts';

export interface DetectRepo {
  /** True when the alert was new (false: another instance or an earlier event already raised it). */
  insertAlert(alert: Alert): Promise<boolean>;
  listAlerts(filter: { since?: number; limit: number }): Promise<Alert[]>;
  insertBlock(block: Block): Promise<void>;
  /** Blocks not lifted and not expired at `now`. */
  activeBlocks(now: number): Promise<Block[]>;
  /** The active block on exactly (kind, value) at `now` that lasts longest, if any (one indexed read). */
  activeBlockOn(kind: BlockKind, value: string, now: number): Promise<Block | undefined>;
  /** Lifts every active block on (kind, value); returns the lifted blocks. */
  liftBlocks(kind: BlockKind, value: string, by: string, now: number): Promise<Block[]>;
  liftBlock(id: string, by: string, now: number): Promise<Block | undefined>;
  /** Lifts those of these blocks that are still active at `now`, in one statement; returns them. */
  liftActiveBlocks(ids: readonly string[], by: string, now: number): Promise<Block[]>;
  listBlocks(filter: { includeInactive?: boolean; now: number; limit: number }): Promise<Block[]>;
  /** Deletes alerts created before `cutoff` and blocks that ended (expired or lifted) before it; never an active block. */
  deleteEndedBefore(cutoff: number): Promise<{ alerts: number; blocks: number }>;
}

function toAlert(r: Selectable<DetectAlertsTable>): Alert {
  return {
    id: r.id, rule: r.rule, severity: r.severity as Alert['severity'], keyKind: r.key_kind as Alert['keyKind'], key: r.key,
    count: Number(r.count), windowStart: Number(r.window_start), actions: fromJsonText(r.actions) as string[],
    details: fromJsonText(r.details) as Record<string, unknown>, instance: r.instance, createdAt: Number(r.created_at),
  };
}

function toBlock(r: Selectable<DetectBlocksTable>): Block {
  return {
    id: r.id, kind: r.kind as BlockKind, value: r.value, reason: r.reason, alertId: r.alert_id, createdBy: r.created_by,
    createdAt: Number(r.created_at), expiresAt: Number(r.expires_at),
    liftedAt: r.lifted_at === null ? null : Number(r.lifted_at), liftedBy: r.lifted_by,
  };
}

export function createDetectRepo(db: Kysely<Database>): DetectRepo {
  return {
    async insertAlert(a) {
      const r = await db.insertInto('detect_alerts').values({
        id: a.id, rule: a.rule, severity: a.severity, key_kind: a.keyKind, key: a.key, count: a.count, window_start: a.windowStart,
        actions: toJsonText(a.actions), details: toJsonText(a.details), instance: a.instance, created_at: a.createdAt,
      }).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    },

    async listAlerts(f) {
      let q = db.selectFrom('detect_alerts').selectAll();
      if (f.since !== undefined) q = q.where('created_at', '>=', f.since);
      return (await q.orderBy('created_at', 'desc').limit(f.limit).execute()).map(toAlert);
    },

    async insertBlock(b) {
      await db.insertInto('detect_blocks').values({
        id: b.id, kind: b.kind, value: b.value, reason: b.reason, alert_id: b.alertId, created_by: b.createdBy,
        created_at: b.createdAt, expires_at: b.expiresAt, lifted_at: b.liftedAt, lifted_by: b.liftedBy,
      }).execute();
    },

    async activeBlocks(now) {
      const rows = await db.selectFrom('detect_blocks').selectAll().where('expires_at', '>', now).where('lifted_at', 'is', null).execute();
      return rows.map(toBlock);
    },

    async activeBlockOn(kind, value, now) {
      const row = await db.selectFrom('detect_blocks').selectAll()
        .where('kind', '=', kind).where('value', '=', value).where('expires_at', '>', now).where('lifted_at', 'is', null)
        .orderBy('expires_at', 'desc').limit(1).executeTakeFirst();
      return row ? toBlock(row) : undefined;
    },

    async liftBlocks(kind, value, by, now) {
      const rows = await db.updateTable('detect_blocks').set({ lifted_at: now, lifted_by: by })
        .where('kind', '=', kind).where('value', '=', value).where('lifted_at', 'is', null).where('expires_at', '>', now)
        .returningAll().execute();
      return rows.map(toBlock);
    },

    async liftBlock(id, by, now) {
      const row = await db.updateTable('detect_blocks').set({ lifted_at: now, lifted_by: by })
        .where('id', '=', id).where('lifted_at', 'is', null).returningAll().executeTakeFirst();
      return row ? toBlock(row) : undefined;
    },

    async liftActiveBlocks(ids, by, now) {
      if (ids.length === 0) return [];
      const rows = await db.updateTable('detect_blocks').set({ lifted_at: now, lifted_by: by })
        .where('id', 'in', [...ids]).where('lifted_at', 'is', null).where('expires_at', '>', now)
        .returningAll().execute();
      return rows.map(toBlock);
    },

    async deleteEndedBefore(cutoff) {
      const alerts = await db.deleteFrom('detect_alerts').where('created_at', '<', cutoff).executeTakeFirst();
      // Ended before the cut-off: expired then, or lifted then (a lifted block may not have expired yet).
      const blocks = await db.deleteFrom('detect_blocks')
        .where((eb) => eb.or([eb('expires_at', '<', cutoff), eb.and([eb('lifted_at', 'is not', null), eb('lifted_at', '<', cutoff)])]))
        .executeTakeFirst();
      return { alerts: Number(alerts.numDeletedRows), blocks: Number(blocks.numDeletedRows) };
    },

    async listBlocks(f) {
      let q = db.selectFrom('detect_blocks').selectAll();
      if (!f.includeInactive) q = q.where('expires_at', '>', f.now).where('lifted_at', 'is', null);
      return (await q.orderBy('created_at', 'desc').limit(f.limit).execute()).map(toBlock);
    },
  };
}
