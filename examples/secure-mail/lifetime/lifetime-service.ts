/**
 * The lifetime service process (reached only through Gatehouse, callers: messages):
 *   PUT    /svc/lifetime/schedules/:id            {expiresAt}  → 204  schedule (idempotent)
 *   DELETE /svc/lifetime/schedules/:id                         → 204  cancel (saga compensation)
 *   POST   /svc/lifetime/schedules/:id/expire-now              → 204 deleted | 202 will retry
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import { HttpKeyService } from '../crypto/http-key-service.ts';
import { AuditLog } from '../shared/audit.ts';
import { requireCaller } from '../shared/authorize.ts';
import { MailError } from '../shared/errors.ts';
import { publicError, readJson } from '../shared/http.ts';
import { openDatabase } from '../shared/sqlite.ts';
import { startSecureService } from '../shared/secure-service.ts';
import { baseServiceConfigSchema, setupService } from '../shared/service-setup.ts';
import type { Running } from '../shared/run-main.ts';
import { MESSAGES_INTERNAL_PATH } from '../messages/saga-ports.ts';
import { Reaper } from './reaper.ts';
import { ScheduleRepo } from './schedule-repo.ts';

export const lifetimeConfigSchema = baseServiceConfigSchema.extend({
  name: z.literal('lifetime'),
  callers: z.object({ messages: z.string() }).strict(),
  tickMs: z.number().int().min(50).max(60_000).default(1000),
});

const scheduleBody = z.object({ expiresAt: z.iso.datetime() }).strict();
const ROUTE = /^\/svc\/lifetime\/schedules\/(msg_[0-9a-f]{32})(\/expire-now)?$/;

export async function startLifetimeService(raw: unknown, logger?: Logger): Promise<Running & { repo: ScheduleRepo; reaper: Reaper; audit: AuditLog }> {
  const setup = await setupService(raw, lifetimeConfigSchema, logger);
  const { config } = setup;
  const db = openDatabase(join(config.dataDir, 'lifetime.db'), '');
  const repo = new ScheduleRepo(db);
  const audit = new AuditLog({ service: 'lifetime', db, logger: setup.logger });
  const reaper = new Reaper({
    repo, audit, logger: setup.logger, tickMs: config.tickMs,
    keys: new HttpKeyService(setup.caller),
    async deleteMessage(id) {
      const r = await setup.caller.call('DELETE', `${MESSAGES_INTERNAL_PATH}/messages/${id}`);
      if (r.status !== 204) throw new MailError('MAIL_DEPENDENCY_FAILED', { detail: `delete ${id}: status ${r.status}` });
    },
  });

  const service = await startSecureService({
    name: 'lifetime', host: config.host, port: config.port, tls: setup.tls,
    allowedPeers: [config.gateway.spiffeId], verifier: setup.verifier, logger: setup.logger, audit,
    async handler(req, res, scope) {
      const path = (req.url ?? '').split('?')[0]!;
      const m = ROUTE.exec(path);
      const id = m?.[1];
      const action = !m ? 'schedule.unknown' : m[2] ? 'schedule.expire-now' : req.method === 'PUT' ? 'schedule.set' : 'schedule.cancel';
      try {
        if (!m) throw new MailError('MAIL_NOT_FOUND', { detail: `${req.method} ${path}` });
        requireCaller(scope.identity, [config.callers.messages]);
        if (m[2] && req.method === 'POST') {
          repo.upsert(id!, Date.now());
          const gone = await reaper.reap(id!, repo.get(id!)?.attempts ?? 0);
          res.writeHead(gone ? 204 : 202).end();
        } else if (!m[2] && req.method === 'PUT') {
          const body = await readJson(req, scheduleBody, 1024);
          repo.upsert(id!, Date.parse(body.expiresAt));
          res.writeHead(204).end();
        } else if (!m[2] && req.method === 'DELETE') {
          repo.cancel(id!);
          res.writeHead(204).end();
        } else {
          throw new MailError('MAIL_METHOD_NOT_ALLOWED', { detail: `${req.method} ${path}` });
        }
        audit.record({ action, outcome: 'allowed', actor: scope.identity.subject, messageId: id, requestId: scope.requestId });
      } catch (err) {
        audit.record({ action, outcome: 'denied', actor: scope.identity.subject, messageId: id, reason: publicError(err).code, requestId: scope.requestId });
        throw err;
      }
    },
  });
  reaper.start();
  return {
    port: service.port, repo, reaper, audit,
    async close() { await reaper.stop(); await service.close(); await setup.close(); db.close(); },
  };
}
