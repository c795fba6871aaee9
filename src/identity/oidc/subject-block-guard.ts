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
import { errors } from 'oidc-provider';
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

/** What a blocked subject's client is told (the gateway's 403 says no more: that it is blocked, not why or until when). */
const BLOCKED_DESCRIPTION = 'the subject is temporarily blocked';

/** invalid_grant (token endpoint) or invalid_token (userinfo) for a blocked subject. */
function blockedError(kind: 'InvalidGrant' | 'InvalidToken', detail: string): Error {
  const e = new errors[kind]!(undefined, detail) as Error & { error_description?: string; error_detail?: string };
  e.error_description = BLOCKED_DESCRIPTION;
  e.error_detail = detail;
  return e;
}

/**
 * 503 temporarily_unavailable: the blocks could not be read, so nothing is issued (fail closed).
 * Not invalid_grant: a client told that drops its refresh token, which is still good.
 */
function blockCheckUnavailable(): Error {
  const e = new errors.TemporarilyUnavailable!('the request cannot be checked now; try again later') as Error & { status: number; statusCode?: number };
  e.status = 503;
  e.statusCode = 503;
  return e;
}

/**
 * The check inside oidc-provider (its `findAccount` and, for client credentials,
 * `extraTokenClaims`; `ctx` is its request context). At the token endpoint a blocked subject's
 * grant is refused with `invalid_grant` — a refresh token before it is consumed (oidc-provider
 * asks for the account first), so the same token works once the block ends; an authorization
 * code is spent (consumed before the account is asked for). Userinfo refuses its access token
 * with `invalid_token`. Both throw. Anywhere else (an authorization request carrying a session of
 * the subject) it returns true: the account is then unavailable, sign-in is asked for again, and
 * the sign-in pages refuse the subject.
 */
export function providerBlockCheck(guard: SubjectBlockGuard): (ctx: any, subject: string) => Promise<boolean> {
  return async (ctx, subject) => {
    const route: string = typeof ctx?.oidc?.route === 'string' ? ctx.oidc.route : 'unknown';
    const clientId: unknown = ctx?.oidc?.client?.clientId;
    const grantType: unknown = route === 'token' ? ctx?.oidc?.params?.grant_type : undefined;
    const refusal = await guard(typeof ctx === 'object' && ctx !== null ? ctx : {}, subject, {
      endpoint: route,
      ...(typeof clientId === 'string' ? { clientId } : {}),
      ...(typeof grantType === 'string' ? { grantType } : {}),
      ...(typeof ctx?.ip === 'string' && ctx.ip !== '' ? { clientAddress: ctx.ip } : {}),
    });
    if (!refusal) return false;
    if (route !== 'token' && route !== 'userinfo') return true;
    if (refusal.reason === 'unavailable') throw blockCheckUnavailable();
    throw blockedError(route === 'token' ? 'InvalidGrant' : 'InvalidToken', `subject ${subject} is blocked (block ${refusal.blockId ?? '?'})`);
  };
}
