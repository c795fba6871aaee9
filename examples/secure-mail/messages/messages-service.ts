/**
 * The messages service process: metadata and encrypted content (two database files), the
 * send saga, the user API (/api/mail) and the internal API (/svc/messages):
 *   DELETE /svc/messages/messages/:id   → 204                     callers: lifetime (shred)
 *   GET    /svc/messages/messages/:id   → 204 | 410 MAIL_GONE     callers: notification (may a notice still go out?)
 * and the administrators' API (/api/admin, admin-routes.ts).
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import { AuditLog } from '../shared/audit.ts';
import { requireCaller } from '../shared/authorize.ts';
import { MailError } from '../shared/errors.ts';
import { openDatabase } from '../shared/sqlite.ts';
import { startSecureService } from '../shared/secure-service.ts';
import { baseServiceConfigSchema, setupService } from '../shared/service-setup.ts';
import type { Running } from '../shared/run-main.ts';
import { Directory } from './directory.ts';
import { MessageRepo } from './message-repo.ts';
import { CONTENT_SCHEMA, METADATA_SCHEMA } from './schema.ts';
import { requestDeletionOfConsumed } from './consumed-sweep.ts';
import { LegacySubjects } from './subject-migration.ts';
import { SAGA_STEPS, SendSaga, type SagaFaults } from './send-saga.ts';
import { httpSagaPorts, MESSAGES_INTERNAL_PATH } from './saga-ports.ts';
import { DEFAULT_LIMITS, userRoutes } from './user-routes.ts';
import { adminRoutes } from './admin-routes.ts';

const step = z.enum(SAGA_STEPS);

export const messagesConfigSchema = baseServiceConfigSchema.extend({
  name: z.literal('messages'),
  directoryFile: z.string(),
  callers: z.object({ lifetime: z.string(), notification: z.string() }).strict(),
  limits: z.object({
    minLifetimeSeconds: z.number().int().min(1).default(DEFAULT_LIMITS.minLifetimeSeconds),
    maxLifetimeSeconds: z.number().int().min(60).max(30 * 24 * 3600).default(DEFAULT_LIMITS.maxLifetimeSeconds),
    maxBodyChars: z.number().int().min(1).max(1024 * 1024).default(DEFAULT_LIMITS.maxBodyChars),
    maxRecipients: z.number().int().min(1).max(100).default(DEFAULT_LIMITS.maxRecipients),
    maxLiveMessages: z.number().int().min(1).max(100_000).default(DEFAULT_LIMITS.maxLiveMessages),
  }).strict().default(DEFAULT_LIMITS),
  recoveryIntervalMs: z.number().int().min(100).default(30_000),
  /** Test-only: refused unless SECURE_MAIL_FAULTS=1. */
  faults: z.object({ failAt: step.optional(), crashAfter: step.optional() }).strict().optional(),
});

export async function startMessagesService(raw: unknown, logger?: Logger): Promise<Running & { repo: MessageRepo; audit: AuditLog; saga: SendSaga; legacySubjects: LegacySubjects; files: { metadata: string; content: string } }> {
  const setup = await setupService(raw, messagesConfigSchema, logger);
  const { config } = setup;
  if (config.faults && process.env.SECURE_MAIL_FAULTS !== '1') throw new Error('faults are for tests only; set SECURE_MAIL_FAULTS=1 to use them');
  const files = { metadata: join(config.dataDir, 'metadata.db'), content: join(config.dataDir, 'content.db') };
  // Metadata says who wrote to whom until when: a deleted row must not stay readable in free
  // pages or a WAL (nor a plain-text subject from before subjects were sealed, once moved).
  const metaDb = openDatabase(files.metadata, METADATA_SCHEMA, { secureDelete: true });
  // Content rows hold only ciphertext and wrapped keys; still overwritten on delete.
  const contentDb = openDatabase(files.content, CONTENT_SCHEMA, { secureDelete: true });
  const legacy = new LegacySubjects(metaDb, contentDb);
  const repo = new MessageRepo(metaDb, contentDb);
  const audit = new AuditLog({ service: 'messages', db: metaDb, logger: setup.logger });
  const ports = httpSagaPorts(setup.caller);
  const saga = new SendSaga({ repo, ports, logger: setup.logger, faults: config.faults as SagaFaults | undefined });
  const directory = Directory.fromFile(config.directoryFile);
  const users = userRoutes({ repo, saga, keys: ports.keys, directory, audit, limits: config.limits, consumed: ports.consumed, legacySubject: (id) => legacy.get(id) });
  const admin = adminRoutes({ repo, directory, audit, shredNow: ports.shredNow });

  const service = await startSecureService({
    name: 'messages', host: config.host, port: config.port, tls: setup.tls,
    allowedPeers: [config.gateway.spiffeId], verifier: setup.verifier, logger: setup.logger, audit,
    async handler(req, res, scope) {
      const path = (req.url ?? '').split('?')[0]!;
      if (path.startsWith('/api/mail/')) return users(req, res, scope, path);
      if (path.startsWith('/api/admin/')) return admin(req, res, scope, path);
      const m = new RegExp(`^${MESSAGES_INTERNAL_PATH}/messages/(msg_[0-9a-f]{32})$`).exec(path);
      if (m && req.method === 'GET') {
        // Asked right before each notice is sent: one queued earlier must not go out about a
        // message that was read once, shredded or expired since.
        const action = 'message.notifiable';
        try {
          requireCaller(scope.identity, [config.callers.notification]);
          if (!repo.isNotifiable(m[1]!, Date.now())) throw new MailError('MAIL_GONE', { detail: `no notice for ${m[1]}: consumed, deleted or expired` });
        } catch (err) {
          audit.record({ action, outcome: 'denied', actor: scope.identity.subject, messageId: m[1], reason: err instanceof MailError ? err.code : 'MAIL_INTERNAL', requestId: scope.requestId });
          throw err;
        }
        audit.record({ action, outcome: 'allowed', actor: scope.identity.subject, messageId: m[1], requestId: scope.requestId });
        res.writeHead(204).end();
        return;
      }
      if (m && req.method === 'DELETE') {
        try {
          requireCaller(scope.identity, [config.callers.lifetime]);
        } catch (err) {
          audit.record({ action: 'message.delete', outcome: 'denied', actor: scope.identity.subject, messageId: m[1], reason: 'MAIL_FORBIDDEN', requestId: scope.requestId });
          throw err;
        }
        // Content first, then metadata: a crash in between leaves an invisible stub that the
        // next (idempotent) delete removes.
        repo.deleteContent(m[1]!);
        repo.deleteMeta(m[1]!);
        audit.record({ action: 'message.delete', outcome: 'allowed', actor: scope.identity.subject, messageId: m[1], requestId: scope.requestId });
        res.writeHead(204).end();
        return;
      }
      throw new MailError('MAIL_NOT_FOUND', { detail: `${req.method} ${path}` });
    },
  });

  await saga.recover().catch((err: unknown) => setup.logger.error({ err }, 'saga recovery failed; retrying later'));
  // One sweep at a time; not awaited at start, so an unreachable lifetime service cannot hold it up.
  let sweeping: Promise<void> | undefined;
  const sweep = () => { sweeping ??= requestDeletionOfConsumed(repo, ports.consumed, setup.logger).finally(() => { sweeping = undefined; }); };
  sweep();
  // Plain-text subjects from an older data directory are sealed as soon as the key service answers.
  let sealing: Promise<unknown> | undefined;
  let legacyLeft = legacy.count();
  const sealLegacy = () => {
    if (legacyLeft === 0) return;
    sealing ??= legacy.sealAll(repo, ports.keys, setup.logger)
      .then((left) => { legacyLeft = left; }, (err: unknown) => setup.logger.error({ err }, 'sealing plain-text subjects failed; retrying later'))
      .finally(() => { sealing = undefined; });
  };
  if (legacyLeft > 0) setup.logger.warn({ subjects: legacyLeft }, 'this data directory holds plain-text subjects from before subjects were sealed; sealing them');
  sealLegacy();
  const timer = setInterval(() => {
    void saga.recover().catch((err: unknown) => setup.logger.error({ err }, 'saga recovery failed'));
    sweep();
    sealLegacy();
  }, config.recoveryIntervalMs);
  timer.unref();
  return {
    port: service.port, repo, audit, saga, files, legacySubjects: legacy,
    async close() { clearInterval(timer); await sealing; await service.close(); await setup.close(); metaDb.close(); contentDb.close(); },
  };
}
