/**
 * Audit records of `gatehouse alerts block|unblock` when the bus is in-process (`bus.url:
 * memory:`, the default). A running instance records block events from the bus; the CLI is
 * another process with its own in-process bus, which no audit writer listens to, so an admin's
 * block or lift from the CLI reached no audit log at all. Here the command records its own
 * events, in the store's audit chain, through the same writer and mapping as an instance.
 *
 * On NATS nothing is done here: the events go to the stream, and the instances' durable `audit`
 * subscription records them (also those published while no instance runs).
 *
 * The command itself (who ran it, success or failure) is recorded apart, as every state-changing
 * command is, by `src/cli/admin-record.ts` (`admin.alerts.block`, `admin.alerts.unblock`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { draftFromEnvelope } from '../../audit/map-event.ts';
import { createLiveRedactor } from '../../audit/live-redactor.ts';
import { AuditWriter } from '../../audit/writer.ts';
import type { EventBus } from '../../bus/types.ts';
import type { Config } from '../../core/config/schema.ts';
import type { Envelope, EventName } from '../../core/events.ts';
import { GatehouseError } from '../../core/errors.ts';
import type { Store } from '../../store/types.ts';

/** What an admin command needs (a `gatehouse` command's context satisfies it). */
export interface AdminContext {
  readonly config: Config;
  readonly store: Store;
  readonly bus: EventBus;
  readonly logger?: Logger;
}

const ADMIN_EVENTS: EventName[] = ['detect.block.added', 'detect.block.lifted'];

/** How long writing the records may take before the command reports them unwritten. */
const WRITE_TIMEOUT_MS = 10_000;

/**
 * Runs `change` (which publishes its events on `ctx.bus`) and, on the in-process bus, writes
 * those events to the audit chain before returning. The writer is opened first, so a spool that
 * cannot be opened refuses the change. Should the store refuse the records after the change was
 * made, this throws ERR_AUDIT_UNAVAILABLE saying so: the change stays in force (the block is
 * already stored), but the command exits 1 and the log holds the unrecorded events.
 */
export async function withAdminAudit<T>(ctx: AdminContext, change: () => Promise<T>): Promise<T> {
  const { config, store, bus, logger } = ctx;
  if (config.bus.url !== 'memory:' || !config.audit.enabled) return change();
  // A spool of its own: the instance's spool belongs to the instance's writer. Nothing replays it.
  const spoolDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-audit-'));
  let writer: AuditWriter | undefined;
  let unsubscribe: (() => void) | undefined;
  try {
    // No signing key: the CLI never creates one, and the instances' next checkpoint covers these records.
    writer = AuditWriter.open({ store, spoolDir, mode: config.mode, chain: config.audit.chain, instance: config.instanceId ?? 'gatehouse', ...(logger ? { logger } : {}), batchMaxDelayMs: 0 });
    const redactor = createLiveRedactor(config.audit.redact);
    const envelopes: Envelope[] = [];
    // The bus's own envelopes: their ids, times and validated payloads are what is recorded.
    unsubscribe = bus.subscribe(ADMIN_EVENTS, (e) => { envelopes.push(e); });
    await bus.flush();
    const result = await change();
    await bus.flush();
    const w = writer;
    for (const e of envelopes) w.append(draftFromEnvelope(e, redactor));
    let timer: NodeJS.Timeout | undefined;
    const written = await Promise.race([w.flush().then(() => true), new Promise<false>((r) => { timer = setTimeout(() => r(false), WRITE_TIMEOUT_MS); })]);
    clearTimeout(timer);
    if (!written || w.stats().queued > 0) {
      // The spool is private and goes with the command: the log keeps what was not recorded.
      logger?.error({ events: envelopes }, 'audit: records of this admin change could not be written to the store');
      throw new GatehouseError('ERR_AUDIT_UNAVAILABLE', { detail: `the change is in force, but its ${envelopes.length} audit record(s) could not be written to the store` });
    }
    return result;
  } finally {
    unsubscribe?.();
    await writer?.close(0);
    await rm(spoolDir, { recursive: true, force: true });
  }
}
