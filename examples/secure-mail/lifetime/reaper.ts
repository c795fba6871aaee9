/**
 * Deletes messages when they are due: first the key service destroys the message's key
 * (crypto-shredding — from then on no copy of the content, not even a backup, can be
 * decrypted), then the messages service deletes content and metadata. Both calls are
 * idempotent, so a retry or a restart half-way is harmless. Failures are retried with
 * exponential backoff (1 s doubling, at most 5 min). The state is in the database, so
 * schedules survive restarts and overdue ones are handled at the first tick after start.
 */
import type { Logger } from 'pino';
import { PeriodicJob } from '../shared/periodic.ts';
import type { KeyService } from '../crypto/key-service.ts';
import type { AuditLog } from '../shared/audit.ts';
import type { ScheduleRepo } from './schedule-repo.ts';

export interface ReaperOptions {
  repo: ScheduleRepo;
  keys: KeyService;
  deleteMessage(messageId: string): Promise<void>;
  audit: AuditLog;
  logger: Logger;
  tickMs: number;
}

export class Reaper {
  readonly #o: ReaperOptions;
  readonly #job: PeriodicJob;

  constructor(options: ReaperOptions) {
    this.#o = options;
    this.#job = new PeriodicJob('lifetime', options.tickMs, options.logger, () => this.#reapDue());
  }

  start(): void { this.#job.start(); }

  /** Handles everything due now. Concurrent calls share one run. */
  tick(): Promise<void> { return this.#job.tick(); }

  async #reapDue(): Promise<void> {
    for (const s of this.#o.repo.due(Date.now())) await this.reap(s.messageId, s.attempts);
  }

  /** @returns true when the message is now gone. */
  async reap(messageId: string, attempts = 0): Promise<boolean> {
    try {
      await this.#o.keys.destroy(messageId);
      await this.#o.deleteMessage(messageId);
      this.#o.repo.markDone(messageId, Date.now());
      this.#o.audit.record({ action: 'message.shred', outcome: 'allowed', actor: 'lifetime', messageId });
      return true;
    } catch (err) {
      const next = attempts + 1;
      const delay = Math.min(1000 * 2 ** Math.min(attempts, 20), 5 * 60_000);
      this.#o.repo.markFailed(messageId, next, Date.now() + delay, (err as Error).message);
      this.#o.audit.record({ action: 'message.shred', outcome: 'failed', actor: 'lifetime', messageId, reason: (err as { code?: string }).code ?? 'MAIL_INTERNAL' });
      this.#o.logger.warn({ err, messageId, attempts: next, retryInMs: delay }, 'deletion failed; will retry');
      return false;
    }
  }

  stop(): Promise<void> { return this.#job.stop(); }
}
