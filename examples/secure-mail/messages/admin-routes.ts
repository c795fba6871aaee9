/**
 * The administrators' API (route "mail-admin" in gatehouse.yaml, docs/secure-mail.md):
 *
 *   POST /api/admin/purge  {username}  → 200 {username, purged, retrying}
 *
 * Purges the mailbox of a compromised or departed account: every message the user sent or
 * received is hidden at once and crypto-shredded — the same path a read-once message takes
 * (the lifetime service destroys the message's key, then this service deletes content and
 * metadata). A message is shared by its sender and all its recipients (one key per message),
 * so it is gone for all of them.
 *
 * Gatehouse demands a recent second factor and a second administrator's approval before the
 * request gets here; this service still checks the asserted roles itself, and refuses a purge
 * whose verified assertion carries no approval (defense in depth: a misconfigured route must
 * not let a mail user purge anyone's mail, nor one administrator alone).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { AuditLog } from '../shared/audit.ts';
import { requireUser } from '../shared/authorize.ts';
import { MailError } from '../shared/errors.ts';
import { readJson, sendJson } from '../shared/http.ts';
import type { RequestScope } from '../shared/secure-service.ts';
import { USERNAME_PATTERN, type Directory } from './directory.ts';
import type { MessageRepo } from './message-repo.ts';

export const ADMIN_ROLE = 'mail-admin';

export interface AdminRoutesDeps {
  repo: MessageRepo;
  directory: Directory;
  audit: AuditLog;
  /** Asks the lifetime service to shred a message now; false when it will retry later. */
  shredNow(messageId: string): Promise<boolean>;
}

const purgeBody = z.object({ username: z.string().regex(USERNAME_PATTERN) }).strict();

export function adminRoutes(deps: AdminRoutesDeps) {
  const { repo, directory, audit } = deps;
  return async (req: IncomingMessage, res: ServerResponse, scope: RequestScope, path: string): Promise<void> => {
    const me = scope.identity.subject;
    const action = req.method === 'POST' && path === '/api/admin/purge' ? 'mailbox.purge' : 'admin.unknown';
    try {
      requireUser(scope.identity);
      if (!scope.identity.roles.includes(ADMIN_ROLE)) throw new MailError('MAIL_FORBIDDEN', { detail: `${me} lacks ${ADMIN_ROLE}` });
      if (action !== 'mailbox.purge') throw new MailError('MAIL_NOT_FOUND', { detail: `${req.method} ${path}` });
      // The approval Gatehouse signed into this request's (request-bound) assertion — not the
      // unsigned x-gatehouse-approval header, which only the connection vouches for.
      const approval = scope.identity.approval;
      if (approval === undefined) throw new MailError('MAIL_FORBIDDEN', { detail: `${me}: purge without a second administrator's approval` });
      const { username } = await readJson(req, purgeBody, 1024);
      const target = directory.byUsername(username);
      if (!target) throw new MailError('MAIL_RECIPIENT_UNKNOWN', { detail: `no user ${username}` });
      // Recorded with the list, so a send still in flight now cannot complete afterwards
      // (its saga is refused and compensated, the sender gets 502 MAIL_SEND_FAILED).
      const ids = repo.beginPurge(target.subject, Date.now());
      // Hidden first, all of them, before the slower shredding: none stays readable meanwhile.
      for (const id of ids) repo.hide(id);
      let retrying = 0;
      for (const id of ids) {
        // A failed or deferred shred stays `consumed`: the consumed sweep asks again.
        const gone = await deps.shredNow(id).catch((err: unknown) => { scope.logger.warn({ err, messageId: id }, 'purge: shred deferred; the consumed sweep asks again'); return false; });
        if (!gone) retrying++;
        audit.record({ action: 'message.purge', outcome: 'allowed', actor: me, messageId: id, reason: gone ? undefined : 'retrying', requestId: scope.requestId });
      }
      // Who approved is kept with the purge.
      audit.record({ action, outcome: 'allowed', actor: me, reason: `user=${target.username} messages=${ids.length} approval=${approval.id}; approver=${approval.approver}`, requestId: scope.requestId });
      sendJson(res, 200, { username: target.username, purged: ids.length, retrying });
    } catch (err) {
      const status = err instanceof MailError ? err.status : 500;
      audit.record({ action, outcome: status >= 500 ? 'failed' : 'denied', actor: me, reason: err instanceof MailError ? err.code : 'MAIL_INTERNAL', requestId: scope.requestId });
      throw err;
    }
  };
}
