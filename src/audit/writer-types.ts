/** The audit writer's options, statistics, and what a held response offers it. */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { Store } from '../store/types.ts';
import type { AuditSigningKey } from './signing-key.ts';

/**
 * What waits for an access record's grouped spool write: a response about to finish.
 * `cork` at append (the gateway corks its socket and defers its final write), `uncork` once the
 * line is in the OS (socket released, final write made), so the client never has an answer
 * whose record a killed process could lose.
 */
export interface Holdable {
  cork(): void;
  uncork(): void;
}

export interface AuditWriterOptions {
  /** With `commitThread`, for everything but the batches: checkpoints, the actor index, reading the head. */
  store: Store;
  /**
   * Commit the batches on a worker thread with its own connection to `store`'s database
   * (commit-thread.ts). Ignored for an in-memory SQLite store (nothing to share it with).
   */
  commitThread?: boolean;
  spoolDir: string;
  chain?: string;
  /** Instance name written into checkpoints. */
  instance: string;
  signingKey?: AuditSigningKey;
  logger?: Logger;
  /** `config.mode`: production refuses a group-writable spool directory. Default: from NODE_ENV. */
  mode?: 'development' | 'production';
  /** Publishes `audit.checkpoint`. */
  bus?: EventBus;
  fsync?: boolean;
  batchMaxEvents?: number;
  batchMaxDelayMs?: number;
  maxQueued?: number;
  checkpointEveryRecords?: number;
  checkpointEveryMs?: number;
  /** Spool segment size (tests make it small). */
  maxSegmentBytes?: number;
  /** Records behind the actor index that start a bulk run (tests make it small; see actor-index.ts). */
  actorIndexEvery?: number;
}

export interface AuditWriterStats {
  appended: number;
  committed: number;
  duplicatesSkipped: number;
  batches: number;
  failedBatches: number;
  queued: number;
  spilling: boolean;
  checkpoints: number;
  /** Epoch ms of the last failed batch while the store is still failing, else undefined. */
  failingSince: number | undefined;
  /** Epoch ms of the first spool write that failed (disk full, unwritable) while it still fails, else undefined. */
  spoolFailingSince: number | undefined;
}
