/**
 * The audit writer's signed checkpoints: when one is due (every so many records or so much
 * time), signing and storing it, and the one signed at what the writer wrote when the chain
 * was rewritten behind it.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import { toGatehouseError } from '../core/errors.ts';
import { createAuditRepo } from '../store/repos/audit-repo.ts';
import type { Store } from '../store/types.ts';
import { signCheckpoint } from './checkpoint.ts';
import type { AuditCheckpoint, ChainHead } from './record.ts';
import type { AuditSigningKey } from './signing-key.ts';
import type { AuditWriterStats } from './writer-types.ts';

export interface WriterCheckpointsOptions {
  store: Store;
  /** Without one, no checkpoint is ever signed. */
  signingKey: AuditSigningKey | undefined;
  instance: string;
  bus: EventBus | undefined;
  logger: Logger | undefined;
  everyRecords: number;
  everyMs: number;
  /** The writer's statistics: counts the checkpoints stored. */
  stats: AuditWriterStats;
}

export class WriterCheckpoints {
  readonly #o: WriterCheckpointsOptions;
  #sinceCheckpoint = 0;
  #lastCheckpointAt = Date.now();
  #lastCheckpointSeq = 0;

  constructor(options: WriterCheckpointsOptions) {
    this.#o = options;
  }

  get enabled(): boolean {
    return this.#o.signingKey !== undefined;
  }

  /** Records committed since the last checkpoint: what makes one due by count. */
  recorded(count: number): void {
    this.#sinceCheckpoint += count;
  }

  /** True when records up to `head` were written since the last checkpoint (close signs one then). */
  owed(head: ChainHead | undefined): head is ChainHead {
    return this.enabled && head !== undefined && head.seq > 0 && head.seq !== this.#lastCheckpointSeq;
  }

  async ifDue(head: ChainHead | undefined, byTime: boolean): Promise<AuditCheckpoint | undefined> {
    if (!this.enabled || !head || head.seq === this.#lastCheckpointSeq) return undefined;
    const due = this.#sinceCheckpoint >= this.#o.everyRecords || (byTime && Date.now() - this.#lastCheckpointAt >= this.#o.everyMs);
    if (!due) return undefined;
    return this.at(head);
  }

  /** Signs and stores a checkpoint at `head`; undefined when it could not be stored. */
  async at(head: ChainHead): Promise<AuditCheckpoint | undefined> {
    this.#sinceCheckpoint = 0;
    this.#lastCheckpointAt = Date.now();
    this.#lastCheckpointSeq = head.seq;
    try {
      return await this.#store(head);
    } catch (err) {
      // The next batch or tick tries again; records are safe either way.
      this.#lastCheckpointSeq = 0;
      this.#o.logger?.warn({ err: toGatehouseError(err) }, 'audit: checkpoint could not be stored');
      return undefined;
    }
  }

  /**
   * The chain was rewritten or cut behind this writer: sign a checkpoint at what it wrote (seq and
   * hash from memory, not from the database), so that `audit verify` reports the record at that
   * seq as modified, however consistent the rewritten chain is, and later checkpoints do not
   * launder it. The chain goes on from the head as it found it.
   */
  async signOverwritten(own: ChainHead, found: ChainHead): Promise<void> {
    this.#o.logger?.error({ chain: own.chain, seq: own.seq, wrote: own.hash, headNow: found }, 'audit: the chain was rewritten or cut behind this writer since its last batch; signing a checkpoint at what it wrote, which audit verify will report');
    if (!this.#o.signingKey) return;
    try {
      await this.#store(own);
    } catch (err) {
      this.#o.logger?.error({ err: toGatehouseError(err) }, 'audit: the checkpoint at what this writer wrote could not be stored');
    }
  }

  /** Signs a checkpoint at `head`, stores it, counts it and announces it (`audit.checkpoint`). */
  async #store(head: ChainHead): Promise<AuditCheckpoint> {
    const cp = await signCheckpoint(this.#o.signingKey!, { chain: head.chain, seq: head.seq, hash: head.hash, time: Date.now(), instance: this.#o.instance });
    await createAuditRepo(this.#o.store.db, this.#o.store.dialect).insertCheckpoint(cp, Date.now());
    this.#o.stats.checkpoints += 1;
    this.#o.bus?.publish('audit.checkpoint', { chain: cp.chain, seq: cp.seq, hash: cp.hash, kid: cp.kid });
    return cp;
  }
}
