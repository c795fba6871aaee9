/**
 * The audit record of a state-changing `gatehouse` command (issue 6: every admin action is
 * audited). A running instance records what arrives on the bus; a command is a process of its
 * own, and on the in-process bus (the default) no instance ever sees what it publishes. So the
 * command writes one record of its own, `admin.<group>.<verb>`, straight into the store's audit
 * chain through the audit writer, on every bus: the record is never published, so no instance
 * records it a second time. The writer appends under the chain head's lock (audit-repo.ts), so
 * the chain stays whole while instances append to it at the same time.
 *
 * What is recorded: the operator (the OS user running the command, actor kind `operator`), the
 * action, the resource, the outcome and redacted details the command chose (never a password,
 * secret, token or key: commands do not pass them, and the audit redaction runs over the rest).
 *
 * A command that fails once the store is open is recorded with outcome `failure` and the error
 * code. A command refused before it opens the store (bad arguments, unreadable input, invalid
 * configuration) has touched nothing and is recorded nowhere.
 */
import { randomUUIDv7 } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createLiveRedactor } from '../audit/live-redactor.ts';
import type { AuditDraft, AuditOutcome } from '../audit/record.ts';
import { AuditWriter } from '../audit/writer.ts';
import type { Config } from '../core/config/schema.ts';
import { GatehouseError, isGatehouseError } from '../core/errors.ts';
import type { Store } from '../store/types.ts';

/** What a state-changing command says about itself; `T` is what the command returns. */
export interface AdminAction<T> {
  /** `<group>.<verb>`, e.g. `user.disable`; recorded as the action `admin.user.disable`. */
  action: string;
  /** What the operator named (user name, client id, serial…), when known before the change. */
  resource?: string;
  /** Arguments worth keeping; never a secret. Redacted all the same. */
  details?: Record<string, unknown>;
  /** Resource and details known only once the change is made (a new id, a serial). */
  result?: (value: T) => { resource?: string; details?: Record<string, unknown> };
}

/** How long writing the record may take before the command reports it unwritten. */
const WRITE_TIMEOUT_MS = 10_000;

interface RecordContext {
  readonly config: Config;
  readonly store: Store;
  readonly logger: Logger;
  /** Instance column of the record (the command's own id, never an instance's). */
  readonly instance: string;
}

/** The OS user running the command; `uid:N` where the user has no name. */
export function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

/**
 * Runs `change` and records it. The writer is opened first, so a spool that cannot be opened
 * refuses the change. If the success record cannot be written, this throws
 * ERR_AUDIT_UNAVAILABLE (the change is in force; the command exits 1 and the log keeps the
 * record). A failure record that cannot be written is logged, and the command's own error
 * is what the operator sees.
 */
export async function withAdminRecord<T>(ctx: RecordContext, what: AdminAction<T>, change: () => Promise<T>): Promise<T> {
  const { config, store, logger } = ctx;
  if (!config.audit.enabled) return change();
  // A spool of its own (the instance's belongs to the instance's writer); nothing replays it.
  const spoolDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-audit-'));
  let writer: AuditWriter | undefined;
  try {
    // No signing key: the CLI never creates one, and the instances' next checkpoint covers the record.
    writer = AuditWriter.open({ store, spoolDir, mode: config.mode, chain: config.audit.chain, instance: config.instanceId ?? 'gatehouse', logger, batchMaxDelayMs: 0 });
    let result: T;
    try {
      result = await change();
    } catch (err) {
      const draft = draftOf(ctx, what, 'failure', { error: err });
      if (!await write(writer, draft)) logger.error({ record: draft }, 'audit: the record of this failed admin command could not be written to the store');
      throw err;
    }
    const draft = draftOf(ctx, what, 'success', { result });
    if (!await write(writer, draft)) {
      logger.error({ record: draft }, 'audit: the record of this admin change could not be written to the store');
      throw new GatehouseError('ERR_AUDIT_UNAVAILABLE', { detail: `the change is in force, but its audit record (${draft.action}) could not be written to the store` });
    }
    return result;
  } finally {
    await writer?.close(0);
    await rm(spoolDir, { recursive: true, force: true });
  }
}

async function write(writer: AuditWriter, draft: AuditDraft): Promise<boolean> {
  writer.append(draft);
  let timer: NodeJS.Timeout | undefined;
  const written = await Promise.race([writer.flush().then(() => true), new Promise<false>((r) => { timer = setTimeout(() => r(false), WRITE_TIMEOUT_MS); })]);
  clearTimeout(timer);
  return written && writer.stats().queued === 0;
}

function draftOf<T>(ctx: RecordContext, what: AdminAction<T>, outcome: AuditOutcome, end: { result: T } | { error: unknown }): AuditDraft {
  const redactor = createLiveRedactor(ctx.config.audit.redact);
  const late = 'result' in end && what.result ? what.result(end.result) : {};
  const resource = late.resource ?? what.resource;
  const failure = 'error' in end ? errorOf(end.error) : {};
  const sudoUser = process.env.SUDO_USER;
  const details = {
    host: hostname(), ...(sudoUser ? { sudoUser } : {}),
    ...what.details, ...late.details, ...failure,
  };
  const action = `admin.${what.action}`;
  return {
    time: Date.now(), instance: ctx.instance, event: action, eventId: randomUUIDv7(), requestId: null, traceId: null,
    actor: redactor.string(`os:${operatorName()}`), actorKind: 'operator', action,
    resource: resource === undefined || resource === '' ? null : redactor.string(resource),
    outcome, decisionId: null, reasons: null, clientAddress: null,
    details: JSON.stringify(redactor.value(details)),
  };
}

/** The code and public message of a failure (what the operator saw on stderr; no stack). */
function errorOf(err: unknown): { errorCode: string; error: string } {
  if (isGatehouseError(err)) return { errorCode: err.code, error: err.detail && err.detail !== err.publicMessage ? `${err.publicMessage} (${err.detail})` : err.publicMessage };
  const code = typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : 'ERR_UNEXPECTED';
  return { errorCode: code, error: err instanceof Error ? err.message : String(err) };
}
