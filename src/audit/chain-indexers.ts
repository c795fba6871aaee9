/**
 * The actor index behind what one committer wrote: an {@link ActorIndexer} per chain, told of each
 * batch's head, and brought up to the last one at close. It runs where the commits run — on the
 * audit commit thread when there is one — so that its bulk runs (reading tens of thousands of
 * records, inserting their entries, taking the chain head) are not the request thread's work.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/types.ts';
import { ActorIndexer } from './actor-index.ts';

export interface ActorIndexSettings {
  logger?: Logger;
  /** Records behind the index that start a bulk run (tests make it small). */
  every?: number;
}

export class ChainIndexers {
  readonly #store: Store;
  readonly #settings: ActorIndexSettings;
  readonly #byChain = new Map<string, { indexer: ActorIndexer; head: number }>();

  constructor(store: Store, settings: ActorIndexSettings = {}) {
    this.#store = store;
    this.#settings = settings;
  }

  /** `chain` now ends at `headSeq` (committed). */
  note(chain: string, headSeq: number): void {
    let c = this.#byChain.get(chain);
    if (c === undefined) {
      const { logger, every } = this.#settings;
      c = { indexer: new ActorIndexer({ store: this.#store, chain, ...(logger ? { logger } : {}), ...(every ? { every } : {}) }), head: 0 };
      this.#byChain.set(chain, c);
    }
    c.head = Math.max(c.head, headSeq);
    c.indexer.note(headSeq);
  }

  /**
   * Indexes every chain up to the last head noted, so that a restart starts with an empty tail,
   * waiting at most `timeoutMs`; then stops (a step under way finishes, bounded the same way).
   */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeLeft = () => new Promise<void>((r) => { timer = setTimeout(r, Math.max(0, deadline - Date.now())); });
    const all = [...this.#byChain.values()];
    try {
      await Promise.race([Promise.all(all.map((c) => c.indexer.drain(c.head))), timeLeft()]);
      clearTimeout(timer);
      await Promise.race([Promise.all(all.map((c) => c.indexer.stop())), timeLeft()]);
    } finally {
      // A pending timer would hold the process up to the deadline.
      clearTimeout(timer);
    }
  }
}
