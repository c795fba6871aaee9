/**
 * The mail API for people — the one the web front end uses and a mobile client would use
 * (documented in docs/secure-mail.md). Reached through Gatehouse at /api/mail; the caller is
 * always the asserted user, never a parameter.
 *
 *   GET  /api/mail/me                                   → {username, limits} (limits: so a client can check input before sending)
 *   POST /api/mail/messages  {to[], subject, body, lifetimeSeconds, readOnce} → 201 {id, expiresAt}
 *   GET  /api/mail/mailboxes/:username/inbox|outbox     → {messages: [...]}  (own mailbox only)
 *   GET  /api/mail/messages/:id                         → metadata (sender and recipients only; others 410 as if gone)
 *   POST /api/mail/messages/:id/read                    → {subject, body} (recipients only; read-once: first read only; others as above)
 *
 * The subject is content, sealed with the body under the message's key: listings and metadata
 * never carry it (they touch no key, so listing a read-once message reveals and consumes
 * nothing of it), only a read does — once, for a read-once message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { AuditLog } from '../shared/audit.ts';
import { requireUser } from '../shared/authorize.ts';
import { MailError } from '../shared/errors.ts';
import { readJson, sendJson } from '../shared/http.ts';
import type { RequestScope } from '../shared/secure-service.ts';
import { openField } from '../crypto/envelope.ts';
import type { KeyService } from '../crypto/key-service.ts';
import { USERNAME_PATTERN, type Directory } from './directory.ts';
import type { MessageMeta, MessageRepo } from './message-repo.ts';
import type { SendSaga } from './send-saga.ts';

export interface MailLimits {
  minLifetimeSeconds: number;
  maxLifetimeSeconds: number;
  maxBodyChars: number;
  maxRecipients: number;
  /** Messages one sender may have live (sent, unexpired, unread-once) at a time: bounds what one account can store and how far it can flood inboxes. */
  maxLiveMessages: number;
}

export const DEFAULT_LIMITS: MailLimits = { minLifetimeSeconds: 60, maxLifetimeSeconds: 7 * 24 * 3600, maxBodyChars: 32 * 1024, maxRecipients: 20, maxLiveMessages: 500 };

export interface UserRoutesDeps {
  repo: MessageRepo;
  saga: SendSaga;
  keys: KeyService;
  directory: Directory;
  audit: AuditLog;
  limits: MailLimits;
  /** A subject still in plain text from before subjects were sealed (subject-migration.ts), until its turn to be sealed. */
  legacySubject(messageId: string): string | undefined;
  /** Tells the lifetime service a read-once message was read (delete now). Failures are logged; the consumed sweep asks again. */
  consumed(messageId: string): Promise<void>;
}

const MESSAGE_ID = /^msg_[0-9a-f]{32}$/;

function composeSchema(l: MailLimits) {
  return z.object({
    to: z.array(z.string().regex(USERNAME_PATTERN)).min(1).max(l.maxRecipients),
    subject: z.string().trim().min(1).max(200).refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'no control characters'),
    body: z.string().min(1).max(l.maxBodyChars),
    lifetimeSeconds: z.number().int().min(l.minLifetimeSeconds).max(l.maxLifetimeSeconds),
    readOnce: z.boolean(),
  }).strict();
}

export function userRoutes(deps: UserRoutesDeps) {
  const { repo, directory, audit } = deps;
  const compose = composeSchema(deps.limits);
  /** Sends under way per sender: not yet `active` in the store, but counted against the limit so a burst cannot overshoot it. */
  const sending = new Map<string, number>();

  const view = (m: MessageMeta, now: number, forSender: boolean) => ({
    id: m.id,
    from: directory.nameOf(m.sender),
    to: m.recipients.map((r) => directory.nameOf(r.subject)),
    createdAt: new Date(m.createdAt).toISOString(),
    expiresAt: new Date(m.expiresAt).toISOString(),
    secondsLeft: Math.max(0, Math.floor((m.expiresAt - now) / 1000)),
    readOnce: m.readOnce,
    ...(forSender ? { readBy: m.recipients.filter((r) => r.readAt !== undefined).map((r) => directory.nameOf(r.subject)) } : {}),
  });

  /**
   * A visible message `me` takes part in (sender or recipient), or MAIL_GONE; expired messages
   * are gone even before the lifetime service deletes them. Anyone else gets MAIL_GONE whatever
   * the state, the answer for an id that never existed (or was shredded, which cannot be told
   * apart from it): a different answer for a live message would tell whoever holds an id
   * whether someone else's message was read.
   */
  const visible = (id: string, me: string, now: number): MessageMeta => {
    if (!MESSAGE_ID.test(id)) throw new MailError('MAIL_NOT_FOUND', { detail: 'message id has the wrong form' });
    const m = repo.getMeta(id);
    if (!m) throw new MailError('MAIL_GONE', { detail: `message ${id} is absent` });
    if (m.sender !== me && !m.recipients.some((r) => r.subject === me)) throw new MailError('MAIL_GONE', { detail: `${me} is neither sender nor recipient of ${id}` });
    if (m.state !== 'active' || m.expiresAt <= now) throw new MailError('MAIL_GONE', { detail: `message ${id} is ${m.state}, expires ${m.expiresAt}` });
    return m;
  };

  return async (req: IncomingMessage, res: ServerResponse, scope: RequestScope, path: string): Promise<void> => {
    const me = scope.identity.subject;
    const now = Date.now();
    let action = 'mail.unknown';
    let messageId: string | undefined;
    try {
      requireUser(scope.identity);
      if (req.method === 'GET' && path === '/api/mail/me') {
        action = 'mail.me';
        sendJson(res, 200, { username: directory.nameOf(me), limits: deps.limits });
      } else if (req.method === 'POST' && path === '/api/mail/messages') {
        action = 'message.send';
        // The role alone does not make a mailbox: only users in the directory send, so every
        // message has a sender the recipients can name, reply to and a purge can find.
        if (!directory.bySubject(me)) throw new MailError('MAIL_SENDER_UNKNOWN', { detail: `${me} is not in the mail directory` });
        const input = await readJson(req, compose, deps.limits.maxBodyChars * 4 + 4096);
        const recipients = [...new Set(input.to)].map((name) => {
          const entry = directory.byUsername(name);
          if (!entry) throw new MailError('MAIL_RECIPIENT_UNKNOWN', { detail: `no user ${name}` });
          return entry.subject;
        });
        // Checked and counted with no await in between: concurrent sends see each other.
        const inFlight = sending.get(me) ?? 0;
        if (repo.countLive(me, Date.now()) + inFlight >= deps.limits.maxLiveMessages) {
          throw new MailError('MAIL_QUOTA_EXCEEDED', { detail: `${me} has ${deps.limits.maxLiveMessages} live messages (${inFlight} being sent)` });
        }
        sending.set(me, inFlight + 1);
        const expiresAt = now + input.lifetimeSeconds * 1000;
        try {
          const { id } = await deps.saga.send({ sender: me, recipients, subject: input.subject, body: input.body, expiresAt, readOnce: input.readOnce });
          messageId = id;
        } finally {
          const left = (sending.get(me) ?? 1) - 1;
          if (left > 0) sending.set(me, left); else sending.delete(me);
        }
        sendJson(res, 201, { id: messageId, expiresAt: new Date(expiresAt).toISOString() });
      } else if (req.method === 'GET' && /^\/api\/mail\/mailboxes\/[^/]+\/(inbox|outbox)$/.test(path)) {
        const [, , , , owner, box] = path.split('/');
        action = `mailbox.${box}`;
        // Only your own mailbox: the name in the path must be the asserted user's.
        if (directory.nameOf(me) !== owner) throw new MailError('MAIL_FORBIDDEN', { detail: `${me} asked for the ${box} of ${owner}` });
        const list = box === 'inbox' ? repo.inbox(me, now) : repo.outbox(me, now);
        sendJson(res, 200, { messages: list.map((m) => view(m, now, box === 'outbox')) });
      } else if (req.method === 'GET' && /^\/api\/mail\/messages\/[^/]+$/.test(path)) {
        action = 'message.metadata';
        messageId = path.split('/')[4]!;
        const m = visible(messageId, me, now);
        sendJson(res, 200, view(m, now, m.sender === me));
      } else if (req.method === 'POST' && /^\/api\/mail\/messages\/[^/]+\/read$/.test(path)) {
        action = 'message.read';
        messageId = path.split('/')[4]!;
        const m = visible(messageId, me, now);
        // Only recipients read content — not even the sender.
        if (!m.recipients.some((r) => r.subject === me)) throw new MailError('MAIL_FORBIDDEN', { detail: `${me} is not a recipient` });
        const stored = repo.getContent(m.id);
        if (!stored) throw new MailError('MAIL_GONE', { detail: `content of ${m.id} is gone` });
        const dataKey = await deps.keys.unwrap(m.id, stored.wrappedKey);
        let body: string;
        let subject: string;
        try {
          body = openField(dataKey, stored, m.id, 'content').toString('utf8');
          const legacy = stored.subject ? undefined : deps.legacySubject(m.id);
          if (stored.subject) subject = openField(dataKey, stored.subject, m.id, 'subject').toString('utf8');
          else if (legacy !== undefined) subject = legacy;
          else throw new MailError('MAIL_DECRYPT_FAILED', { detail: `message ${m.id} has no subject` });
        } finally {
          dataKey.fill(0);
        }
        // Checked again with the time after the unwrap: a read that started before the expiry
        // must not hand out the text after it, however slow the key service was.
        if (!repo.markRead(m.id, me, m.readOnce, Date.now())) throw new MailError('MAIL_GONE', { detail: `message ${m.id} expired, or was read once by someone else, during the read` });
        sendJson(res, 200, { ...view(m, now, false), subject, body });
        if (m.readOnce) {
          deps.consumed(m.id).catch((err: unknown) => scope.logger.warn({ err, messageId: m.id }, 'could not ask for deletion of a consumed message; the consumed sweep asks again'));
        }
      } else {
        throw new MailError('MAIL_NOT_FOUND', { detail: `${req.method} ${path}` });
      }
      audit.record({ action, outcome: 'allowed', actor: me, messageId, requestId: scope.requestId });
    } catch (err) {
      const status = err instanceof MailError ? err.status : 500;
      audit.record({ action, outcome: status >= 500 ? 'failed' : 'denied', actor: me, messageId, reason: err instanceof MailError ? err.code : 'MAIL_INTERNAL', requestId: scope.requestId });
      throw err;
    }
  };
}
