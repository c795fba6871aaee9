/**
 * Whether a subject is under an active block, asked of the store at the moment credentials are
 * about to be issued: the identity provider before it issues tokens (and signs a user in), the
 * certificate authority before it renews or issues a certificate.
 *
 * The gateway's stages enforce blocks on requests from an in-memory set (block-check.ts), but
 * the provider's and the CA's endpoints end the pipeline before authentication, so a blocked
 * subject could refresh its tokens, get client-credentials tokens or renew its certificate, and
 * come back with fresh credentials the moment its block ended — or use the certificate between
 * services that never pass the gateway. Issuance is rare next to requests, so it reads the store
 * itself: a block stored by any instance or by `gatehouse alerts block` applies at once, a lift
 * too, and a store that cannot be read is an error the caller refuses on (fail closed).
 */
import { createDetectRepo } from '../store/repos/detect-repo.ts';
import type { Store } from '../store/types.ts';
import { subjectKey } from './subject-key.ts';

/** The block that holds a subject. */
export interface SubjectBlock {
  id: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface SubjectBlocks {
  /**
   * The active block on `subject` (a principal id: `usr_…`, a client id, a SPIFFE id, looked up
   * under the key detection blocks it by), if any. Rejects when the store cannot be read.
   */
  blockOn(subject: string): Promise<SubjectBlock | undefined>;
}

/** Subject blocks read from the store's `detect_blocks`, one indexed read per question. */
export function createStoreSubjectBlocks(store: Store, now: () => number = Date.now): SubjectBlocks {
  const repo = createDetectRepo(store.db);
  return {
    async blockOn(subject) {
      const block = await repo.activeBlockOn('subject', subjectKey(subject), now());
      return block ? { id: block.id, expiresAt: block.expiresAt } : undefined;
    },
  };
}
