/**
 * Runs the rules over the event stream and carries out their actions:
 *   alert → stored (deterministic id: the first instance to store it acts, the others
 *           skip), `detect.alert` on the bus, a warning in the log;
 *   block → stored block + `detect.block.added` (every instance enforces it);
 *   lock  → `AccountLocker.lockAccount` (implemented by the identity provider).
 * Every action is an event on the bus, so the audit log records it: `detect.alert` comes after
 * the block and the lock were tried and lists those carried out (the stored alert keeps the
 * actions decided, since it is stored first to elect the instance that acts).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { DetectConfig } from '../core/config/detect-schema.ts';
import { toGatehouseError } from '../core/errors.ts';
import { createDetectRepo } from '../store/repos/detect-repo.ts';
import type { Store } from '../store/types.ts';
import type { BlockCheck } from './block-check.ts';
import { addBlock } from './blocks.ts';
import { Rules, type Finding, type RuleEvent } from './rules.ts';
import type { AccountLocker, Alert } from './types.ts';

export interface DetectorOptions {
  config: DetectConfig;
  store: Store;
  bus?: EventBus;
  instance: string;
  blockCheck?: BlockCheck;
  accountLocker?: AccountLocker;
  logger?: Logger;
}

export class Detector {
  readonly #o: DetectorOptions;
  readonly #rules: Rules;
  #alerts = 0;

  constructor(options: DetectorOptions) {
    this.#o = options;
    this.#rules = new Rules(options.config);
  }

  /** A reloaded `detect` configuration, for the events that follow (counts kept: {@link Rules.configure}). */
  configure(config: DetectConfig): void {
    this.#rules.configure(config);
  }

  get alertsRaised(): number {
    return this.#alerts;
  }

  /** Feeds one event; resolves when its actions are done (the bus calls handlers one at a time). */
  async handle(event: RuleEvent): Promise<Alert[]> {
    return this.observe(event) ?? [];
  }

  /**
   * `handle` for the bus: undefined when no rule fired, so the nearly every event that
   * finds nothing costs neither a promise nor a turn of the bus's queue.
   */
  observe(event: RuleEvent): Promise<Alert[]> | undefined {
    const findings = this.#rules.evaluate(event);
    return findings.length === 0 ? undefined : this.#actOn(findings);
  }

  async #actOn(findings: readonly Finding[]): Promise<Alert[]> {
    const raised: Alert[] = [];
    for (const f of findings) {
      try {
        const alert = await this.#act(f);
        if (alert) raised.push(alert);
      } catch (err) {
        this.#o.logger?.error({ err: toGatehouseError(err), rule: f.rule }, 'detect: could not carry out the actions of an alert');
      }
    }
    return raised;
  }

  async #act(f: Finding): Promise<Alert | undefined> {
    const { store, bus, logger } = this.#o;
    const id = `al_${createHash('sha256').update(`${f.rule}\u0000${f.keyKind}\u0000${f.key}\u0000${f.windowStart}`).digest('hex').slice(0, 32)}`;
    const actions: string[] = ['alert'];
    if (f.actions.includes('block') && f.block) actions.push('block');
    if (f.actions.includes('lock') && f.lockAccount && this.#o.accountLocker) actions.push('lock');
    const alert: Alert = {
      id, rule: f.rule, severity: f.severity, keyKind: f.keyKind, key: f.key, count: f.count, windowStart: f.windowStart,
      actions, details: f.details, instance: this.#o.instance, createdAt: Date.now(),
    };
    // Instances that saw the same events compute the same id: only the first one acts.
    if (!await createDetectRepo(store.db).insertAlert(alert)) return undefined;
    this.#alerts += 1;
    // Each action is tried whatever became of the others, and the event (the audit record of
    // the alert) is published after them, listing those carried out: it said `lock` or `block`
    // before either was tried, also when it then failed.
    const done: string[] = ['alert'];
    if (actions.includes('block') && f.block) {
      const block = f.block;
      if (await this.#try(id, 'block', async () => {
        this.#o.blockCheck?.add(await addBlock(store, bus, { kind: block.kind, value: block.value, reason: f.rule, durationMs: f.durationMs, createdBy: `detect:${f.rule}`, alertId: id }));
      })) done.push('block');
    }
    if (actions.includes('lock') && f.lockAccount) {
      const { account, by } = f.lockAccount;
      if (await this.#try(id, 'lock', () => this.#o.accountLocker!.lockAccount({ account, by, until: new Date(Date.now() + f.durationMs), reason: f.rule, alertId: id }))) done.push('lock');
    }
    // Logged under its kind (`address`, `subject`, `account`), not `key`: the log's redaction replaces a value named `key` whole, which hid whom the alert was about.
    logger?.warn({ alertId: id, rule: f.rule, keyKind: f.keyKind, [f.keyKind]: f.key, count: f.count, actions: done }, `detect: ${f.rule}`);
    bus?.publish('detect.alert', { alertId: id, rule: f.rule, severity: f.severity, keyKind: f.keyKind, key: f.key, count: f.count, windowStart: new Date(f.windowStart).toISOString(), actions: done });
    if (f.actions.includes('lock') && !this.#o.accountLocker) logger?.warn({ alertId: id }, 'detect: account lock requested but no account locker is wired');
    return { ...alert, actions: done };
  }

  async #try(alertId: string, action: string, run: () => Promise<void>): Promise<boolean> {
    try {
      await run();
      return true;
    } catch (err) {
      this.#o.logger?.error({ err: toGatehouseError(err), alertId, action }, 'detect: could not carry out an action of an alert');
      return false;
    }
  }
}
