/**
 * The send saga: store content → create metadata → schedule expiry → notify → (visible).
 * Each step is idempotent (keyed by the message id) and has a compensation; the saga log
 * records every finished step before the next starts, so a crash at any point is
 * recoverable:
 *
 *   - a step fails            → compensate the finished steps in reverse; the sender gets
 *                               MAIL_SEND_FAILED and nothing of the message remains;
 *   - the process dies        → at the next start, `recover()` compensates every saga that
 *                               had not completed (backward recovery: the sender never got
 *                               a 201, so rolling back is what they were promised);
 *   - a compensation fails    → the saga stays `compensating` and is retried by `recover()`
 *                               (run at start and every `recoveryIntervalMs`).
 *
 * The message stays in state `sending` (invisible to everyone) until the last step, so
 * nobody ever sees a half-sent message. Neither the body nor the subject is ever written to
 * the saga log: both are sealed under the message's data key by the first step, the only one
 * that needs them, and recovery never runs steps forward.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { generateDataKey, sealField } from '../crypto/envelope.ts';
import type { KeyService } from '../crypto/key-service.ts';
import { MailError } from '../shared/errors.ts';
import type { MessageRepo } from './message-repo.ts';

export const SAGA_STEPS = ['storeContent', 'createMetadata', 'scheduleExpiry', 'notify'] as const;
export type SagaStep = typeof SAGA_STEPS[number];

/** What the other services do for the saga (HTTP through Gatehouse in production). */
export interface SagaPorts {
  keys: KeyService;
  schedule(messageId: string, expiresAt: number): Promise<void>;
  unschedule(messageId: string): Promise<void>;
  notify(n: { messageId: string; sender: string; recipients: string[]; expiresAt: number }): Promise<void>;
  cancelNotification(messageId: string): Promise<void>;
}

/** Test-only fault injection (refused unless SECURE_MAIL_FAULTS=1). */
export interface SagaFaults {
  /** Throw instead of running this step. */
  failAt?: SagaStep | undefined;
  /** Kill the process (SIGKILL) right after this step is logged. */
  crashAfter?: SagaStep | undefined;
}

export interface SendInput {
  sender: string;
  recipients: string[];
  subject: string;
  body: string;
  expiresAt: number;
  readOnce: boolean;
}

/** What the saga log keeps while the saga runs: who, to whom, until when — never what was written. */
type SagaInput = Omit<SendInput, 'body' | 'subject'> & { createdAt: number };
/** What was written: held in memory only, for the first step. */
type Written = Pick<SendInput, 'subject' | 'body'>;

export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('hex')}`;
}

export class SendSaga {
  readonly #repo: MessageRepo;
  readonly #ports: SagaPorts;
  readonly #logger: Logger;
  readonly #faults: SagaFaults;
  #recovering: Promise<void> | undefined;
  /** Sagas this process is running right now; recovery leaves them alone. */
  readonly #inFlight = new Set<string>();

  constructor(options: { repo: MessageRepo; ports: SagaPorts; logger: Logger; faults?: SagaFaults }) {
    this.#repo = options.repo;
    this.#ports = options.ports;
    this.#logger = options.logger.child({ component: 'send-saga' });
    this.#faults = options.faults ?? {};
  }

  /** Runs the whole saga. @returns the new message id. @throws MailError MAIL_SEND_FAILED after compensating. */
  async send(input: SendInput): Promise<{ id: string; sagaId: string }> {
    const id = newMessageId();
    const sagaId = `saga_${randomBytes(12).toString('hex')}`;
    const now = Date.now();
    const sagaInput: SagaInput = { sender: input.sender, recipients: input.recipients, expiresAt: input.expiresAt, readOnce: input.readOnce, createdAt: now };
    this.#inFlight.add(sagaId);
    try {
      return await this.#send(sagaId, id, sagaInput, { subject: input.subject, body: input.body });
    } finally {
      this.#inFlight.delete(sagaId);
    }
  }

  async #send(sagaId: string, id: string, sagaInput: SagaInput, written: Written): Promise<{ id: string; sagaId: string }> {
    this.#repo.sagaStart(sagaId, id, JSON.stringify(sagaInput), sagaInput.createdAt);
    const done: SagaStep[] = [];
    try {
      for (const step of SAGA_STEPS) {
        if (this.#faults.failAt === step) throw new Error(`injected failure at ${step}`);
        await this.#run(step, id, sagaInput, written);
        done.push(step);
        this.#repo.sagaUpdate(sagaId, 'running', done, undefined, Date.now());
        if (this.#faults.crashAfter === step) process.kill(process.pid, 'SIGKILL');
      }
      // Refused when a participant's mailbox was purged during the send: then it is undone
      // like any failed send, its key destroyed, and the sender told nothing was kept.
      if (!this.#repo.sagaComplete(sagaId, id, done, Date.now())) throw new Error('a mailbox of the message was purged during the send');
      this.#repo.sagaClearInput(sagaId);
      return { id, sagaId };
    } catch (err) {
      this.#logger.warn({ err, sagaId, messageId: id, done }, 'send saga failed; compensating');
      this.#repo.sagaUpdate(sagaId, 'compensating', done, (err as Error).message.slice(0, 500), Date.now());
      await this.#compensate(sagaId, id, done);
      throw new MailError('MAIL_SEND_FAILED', { detail: `saga ${sagaId} failed: ${(err as Error).message}`, cause: err });
    }
  }

  async #run(step: SagaStep, id: string, input: SagaInput, written: Written): Promise<void> {
    switch (step) {
      case 'storeContent': {
        const dataKey = generateDataKey();
        try {
          const wrappedKey = await this.#ports.keys.wrap(id, dataKey);
          // One data key for both fields, so destroying the message's key shreds the subject too.
          const sealed = sealField(dataKey, Buffer.from(written.body, 'utf8'), id, 'content');
          const subject = sealField(dataKey, Buffer.from(written.subject, 'utf8'), id, 'subject');
          this.#repo.putContent(id, { ...sealed, wrappedKey, subject }, Date.now());
        } finally {
          dataKey.fill(0);
        }
        return;
      }
      case 'createMetadata':
        this.#repo.createMeta({ id, sender: input.sender, createdAt: input.createdAt, expiresAt: input.expiresAt, readOnce: input.readOnce, recipients: input.recipients });
        return;
      case 'scheduleExpiry':
        await this.#ports.schedule(id, input.expiresAt);
        return;
      case 'notify':
        await this.#ports.notify({ messageId: id, sender: input.sender, recipients: input.recipients, expiresAt: input.expiresAt });
        return;
    }
  }

  /**
   * Undoes `done` in reverse. Every compensation is idempotent and independent, so one that
   * fails (its service is down) does not stop the others; the saga then stays
   * `compensating` with what is left, and `recover()` retries it.
   */
  async #compensate(sagaId: string, id: string, done: readonly SagaStep[]): Promise<boolean> {
    // A step that failed half-way may have had an effect (the key was made, the schedule
    // written but the answer lost), so the failed step is compensated too.
    const failed = SAGA_STEPS[done.length];
    const toUndo = (failed ? [...done, failed] : [...done]).reverse();
    const left: SagaStep[] = [];
    const errors: string[] = [];
    for (const step of toUndo) {
      try {
        switch (step) {
          case 'notify': await this.#ports.cancelNotification(id); break;
          case 'scheduleExpiry': await this.#ports.unschedule(id); break;
          case 'createMetadata': this.#repo.deleteMeta(id); break;
          case 'storeContent':
            // Key first: once it is gone the content is unreadable even if its deletion fails.
            await this.#ports.keys.destroy(id);
            this.#repo.deleteContent(id);
            break;
        }
      } catch (err) {
        left.push(step);
        errors.push(`${step}: ${(err as Error).message}`);
      }
    }
    if (left.length === 0) {
      this.#repo.sagaUpdate(sagaId, 'compensated', [], undefined, Date.now());
      this.#repo.sagaClearInput(sagaId);
      return true;
    }
    // Kept in saga order. On retry, recover() may also undo a step that was never done or
    // already undone: harmless, every compensation is idempotent.
    const remaining = SAGA_STEPS.filter((s) => left.includes(s));
    this.#logger.error({ sagaId, messageId: id, left, errors }, 'compensation incomplete; will retry');
    this.#repo.sagaUpdate(sagaId, 'compensating', remaining, `compensation: ${errors.join('; ')}`.slice(0, 500), Date.now());
    return false;
  }

  /**
   * Finishes every saga a crash or a failed compensation left open: completes one whose
   * steps all finished, compensates the others. Safe to call concurrently (runs once).
   */
  recover(): Promise<void> {
    if (this.#recovering) return this.#recovering;
    const run: Promise<void> = (async () => {
      for (const saga of this.#repo.openSagas()) {
        if (this.#inFlight.has(saga.id)) continue;
        const done = saga.stepsDone.filter((s): s is SagaStep => (SAGA_STEPS as readonly string[]).includes(s));
        if (saga.state === 'running' && done.length === SAGA_STEPS.length && this.#repo.sagaComplete(saga.id, saga.messageId, done, Date.now())) {
          this.#repo.sagaClearInput(saga.id);
          this.#logger.info({ sagaId: saga.id, messageId: saga.messageId }, 'recovered saga completed forward');
          continue;
        }
        this.#repo.sagaUpdate(saga.id, 'compensating', done, saga.error, Date.now());
        const ok = await this.#compensate(saga.id, saga.messageId, done);
        this.#logger.info({ sagaId: saga.id, messageId: saga.messageId, compensated: ok }, 'recovered interrupted saga');
      }
    })();
    // Cleared after assignment: a run that finishes synchronously must not stay cached.
    this.#recovering = run.finally(() => { this.#recovering = undefined; });
    return this.#recovering;
  }
}
