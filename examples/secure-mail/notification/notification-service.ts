/**
 * The notification service process (reached only through Gatehouse, callers: messages):
 *   POST   /svc/notification/notifications       {messageId, sender, recipients[], expiresAt} → 202
 *   DELETE /svc/notification/notifications/:id                                               → 204 (cancel pending)
 * Deliveries are recorded and sent by the dispatcher with retries, each only after the
 * messages service (GET /svc/messages/messages/:id, through Gatehouse) says its message is
 * still there to be read.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import { AuditLog } from '../shared/audit.ts';
import { requireCaller } from '../shared/authorize.ts';
import { MailError } from '../shared/errors.ts';
import { publicError, readJson } from '../shared/http.ts';
import { openDatabase } from '../shared/sqlite.ts';
import { startSecureService } from '../shared/secure-service.ts';
import { baseServiceConfigSchema, setupService } from '../shared/service-setup.ts';
import type { Running } from '../shared/run-main.ts';
import { Directory } from '../messages/directory.ts';
import { MESSAGES_INTERNAL_PATH } from '../messages/saga-ports.ts';
import { DeliveryRepo } from './delivery-repo.ts';
import { Dispatcher } from './dispatcher.ts';
import { EmailNotifier, type Notifier } from './notifier.ts';

export const notificationConfigSchema = baseServiceConfigSchema.extend({
  name: z.literal('notification'),
  directoryFile: z.string(),
  callers: z.object({ messages: z.string() }).strict(),
  appUrl: z.url(),
  smtp: z.object({ host: z.string(), port: z.number().int().min(1).max(65535), from: z.email(), plainLoopbackOnly: z.boolean().default(false) }).strict(),
  tickMs: z.number().int().min(50).max(60_000).default(1000),
  maxAttempts: z.number().int().min(1).max(50).default(8),
  baseBackoffMs: z.number().int().min(10).max(60_000).default(2000),
});

const notifyBody = z.object({
  messageId: z.string().regex(/^msg_[0-9a-f]{32}$/),
  sender: z.string().min(1).max(256),
  recipients: z.array(z.string().min(1).max(256)).min(1).max(100),
  expiresAt: z.iso.datetime(),
}).strict();
const CANCEL = /^\/svc\/notification\/notifications\/(msg_[0-9a-f]{32})$/;

export async function startNotificationService(raw: unknown, logger?: Logger, notifier?: Notifier): Promise<Running & { repo: DeliveryRepo; dispatcher: Dispatcher; audit: AuditLog }> {
  const setup = await setupService(raw, notificationConfigSchema, logger);
  const { config } = setup;
  // Its rows name who is told about whose message: a deleted one must not stay readable in free pages or a WAL.
  const db = openDatabase(join(config.dataDir, 'notification.db'), '', { secureDelete: true });
  const repo = new DeliveryRepo(db);
  const audit = new AuditLog({ service: 'notification', db, logger: setup.logger });
  const channel = notifier ?? new EmailNotifier(config.smtp);
  const dispatcher = new Dispatcher({
    repo, notifier: channel, directory: Directory.fromFile(config.directoryFile), audit, logger: setup.logger,
    async isNotifiable(messageId) {
      const r = await setup.caller.call('GET', `${MESSAGES_INTERNAL_PATH}/messages/${messageId}`);
      if (r.status === 204) return true;
      if (r.status === 410) return false;
      throw new MailError('MAIL_DEPENDENCY_FAILED', { detail: `is ${messageId} notifiable: status ${r.status}` });
    },
    appUrl: config.appUrl, tickMs: config.tickMs, maxAttempts: config.maxAttempts, baseBackoffMs: config.baseBackoffMs,
  });
  const service = await startSecureService({
    name: 'notification', host: config.host, port: config.port, tls: setup.tls,
    allowedPeers: [config.gateway.spiffeId], verifier: setup.verifier, logger: setup.logger, audit,
    async handler(req, res, scope) {
      const path = (req.url ?? '').split('?')[0]!;
      let action = 'notification.unknown';
      let messageId: string | undefined;
      try {
        if (req.method === 'POST' && path === '/svc/notification/notifications') {
          action = 'notification.enqueue';
          requireCaller(scope.identity, [config.callers.messages]);
          const body = await readJson(req, notifyBody, 16 * 1024);
          messageId = body.messageId;
          repo.enqueue({ messageId, sender: body.sender, recipients: body.recipients, expiresAt: Date.parse(body.expiresAt), channel: channel.channel }, Date.now());
          res.writeHead(202).end();
          void dispatcher.tick();
        } else if (req.method === 'DELETE' && CANCEL.test(path)) {
          action = 'notification.cancel';
          requireCaller(scope.identity, [config.callers.messages]);
          messageId = CANCEL.exec(path)![1];
          repo.cancel(messageId!);
          res.writeHead(204).end();
        } else {
          throw new MailError('MAIL_NOT_FOUND', { detail: `${req.method} ${path}` });
        }
        audit.record({ action, outcome: 'allowed', actor: scope.identity.subject, messageId, requestId: scope.requestId });
      } catch (err) {
        audit.record({ action, outcome: 'denied', actor: scope.identity.subject, messageId, reason: publicError(err).code, requestId: scope.requestId });
        throw err;
      }
    },
  });
  dispatcher.start();
  return {
    port: service.port, repo, dispatcher, audit,
    async close() { await dispatcher.stop(); await service.close(); await setup.close(); channel.close(); db.close(); },
  };
}
