/**
 * The identity provider's side of temporary blocks: a subject under an active block (detection or
 * `gatehouse alerts block`) gets no credentials here — no tokens from any grant, no sign-in, no
 * userinfo — and a block that cannot be checked refuses too (fail closed).
 *
 * The gateway refuses a blocked subject on every route, but the provider's endpoints are served
 * before authentication, so a blocked user's client kept refreshing its tokens and a blocked
 * service kept getting client-credentials tokens, ready for the moment the block ended.
 *
 * Asked once per request and subject (oidc-provider may look the account up more than once in a
 * request); each refusal is published as `identity.subject.blocked`.
 */
import type { Logger } from 'pino';
import type { SubjectBlocks } from '../../detect/subject-blocks.ts';
import type { IdentityEmit } from '../events.ts';

/** Why a subject is refused: an active block, or blocks that could not be read. */
export interface BlockRefusal {
  reason: 'blocked' | 'unavailable';
  blockId?: string;
  /** Epoch ms. */
  until?: number;
}

/** Where the question is asked, for the event. */
export interface BlockCheckSite {
  endpoint: string;
  clientId?: string;
  grantType?: string;
  clientAddress?: string;
}

/** `request`: one object per request (the provider's context, the sign-in page's request), for the per-request answer. */
export type SubjectBlockGuard = (request: object, subject: string, site: BlockCheckSite) => Promise<BlockRefusal | undefined>;

export function createSubjectBlockGuard(o: { blocks: SubjectBlocks; emit: IdentityEmit; logger: Logger }): SubjectBlockGuard {
  const asked = new WeakMap<object, Map<string, Promise<BlockRefusal | undefined>>>();
  const ask = async (subject: string, site: BlockCheckSite): Promise<BlockRefusal | undefined> => {
    let refusal: BlockRefusal | undefined;
    try {
      const block = await o.blocks.blockOn(subject);
      if (block) refusal = { reason: 'blocked', blockId: block.id, until: block.expiresAt };
    } catch (err) {
      o.logger.error({ err, subject }, 'identity: cannot check the blocks of a subject; refusing it');
      refusal = { reason: 'unavailable' };
    }
    if (refusal) {
      o.emit('identity.subject.blocked', {
        subject, endpoint: site.endpoint, reason: refusal.reason,
        ...(refusal.blockId ? { blockId: refusal.blockId } : {}),
        ...(refusal.until !== undefined ? { blockedUntil: new Date(refusal.until).toISOString() } : {}),
        ...(site.clientId ? { clientId: site.clientId } : {}),
        ...(site.grantType ? { grantType: site.grantType } : {}),
        ...(site.clientAddress ? { clientAddress: site.clientAddress } : {}),
      });
    }
    return refusal;
  };
  return (request, subject, site) => {
    let bySubject = asked.get(request);
    if (!bySubject) asked.set(request, bySubject = new Map());
    let answer = bySubject.get(subject);
    if (!answer) bySubject.set(subject, answer = ask(subject, site));
    return answer;
  };
}
