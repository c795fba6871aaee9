/**
 * Sends due deliveries and retries failures with exponential backoff (2 s doubling, at
 * most 10 min) until `maxAttempts`, then marks them failed. A delivery for a message whose
 * lifetime is over is dropped: the notice would point at nothing. Right before each send the
 * messages service is asked whether the message is still there to be read: a notice queued
 * (or retried) while its read-once message was read, or the message shredded, is cancelled
 * instead of telling the recipient's mailbox about a message that is gone. When the answer
 * cannot be had, nothing is sent and the attempt counts as failed. A delivery that is settled
 * (sent, dropped, cancelled, given up) is deleted, its outcome audited by message id only.
 */
import type { Logger } from 'pino';
import { PeriodicJob } from '../shared/periodic.ts';
import type { AuditLog } from '../shared/audit.ts';
import type { Directory } from '../messages/directory.ts';
import type { DeliveryRepo } from './delivery-repo.ts';
import type { Notifier } from './notifier.ts';
import { describeSendFailure } from './send-failure.ts';

export interface DispatcherOptions {
  repo: DeliveryRepo;
  notifier: Notifier;
  /** Whether a notice about the message may still go out; throws when that cannot be told. */
  isNotifiable(messageId: string): Promise<boolean>;
  directory: Directory;
  audit: AuditLog;
  logger: Logger;
  appUrl: string;
  tickMs: number;
  maxAttempts: number;
  baseBackoffMs?: number;
}

export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #job: PeriodicJob;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#job = new PeriodicJob('notification', options.tickMs, options.logger, () => this.#dispatchDue());
  }

  start(): void { this.#job.start(); }

  /** Handles everything due now. Concurrent calls share one run. */
  tick(): Promise<void> { return this.#job.tick(); }

  async #dispatchDue(): Promise<void> {
    const now = Date.now();
    for (const d of this.#o.repo.due(now)) {
      const to = this.#o.directory.bySubject(d.recipient);
      if (!to || d.expiresAt <= now) {
        this.#o.repo.settled(d);
        this.#o.audit.record({ action: `notify.${d.channel}`, outcome: 'denied', actor: 'notification', messageId: d.messageId, reason: !to ? 'MAIL_RECIPIENT_UNKNOWN' : 'MAIL_GONE' });
        continue;
      }
      try {
        if (!(await this.#o.isNotifiable(d.messageId))) {
          this.#o.repo.cancel(d.messageId);
          this.#o.audit.record({ action: `notify.${d.channel}`, outcome: 'denied', actor: 'notification', messageId: d.messageId, reason: 'MAIL_GONE' });
          continue;
        }
        const providerId = await this.#o.notifier.send({ messageId: d.messageId, to, from: this.#o.directory.nameOf(d.sender), expiresAt: new Date(d.expiresAt), appUrl: this.#o.appUrl });
        this.#o.repo.settled(d);
        // The provider's id lets an operator follow the notice in the mail server's logs.
        this.#o.logger.info({ messageId: d.messageId, providerId }, 'notice sent');
        this.#o.audit.record({ action: `notify.${d.channel}`, outcome: 'allowed', actor: 'notification', messageId: d.messageId });
      } catch (err) {
        const giveUp = d.attempts + 1 >= this.#o.maxAttempts;
        const delay = Math.min((this.#o.baseBackoffMs ?? 2000) * 2 ** d.attempts, 600_000);
        // Redacted: the mail library's error names the recipient's address.
        const failure = describeSendFailure(err);
        if (giveUp) this.#o.repo.settled(d); else this.#o.repo.retry(d, Date.now() + delay, failure.message);
        this.#o.audit.record({ action: `notify.${d.channel}`, outcome: 'failed', actor: 'notification', messageId: d.messageId, reason: giveUp ? 'GAVE_UP' : 'RETRYING' });
        this.#o.logger.warn({ failure, messageId: d.messageId, attempts: d.attempts + 1, giveUp, retryInMs: delay }, 'notification failed');
      }
    }
  }

  stop(): Promise<void> { return this.#job.stop(); }
}
