/**
 * The key service's HTTP API (reached only through Gatehouse):
 *   POST   /svc/keys/wrap          {keyId, dataKey}  → {wrapped}     callers: messages
 *   POST   /svc/keys/unwrap        {keyId, wrapped}  → {dataKey}     callers: messages
 *   DELETE /svc/keys/keys/:keyId                      → 204          callers: messages, lifetime
 */
import { z } from 'zod';
import type { AuditLog } from '../shared/audit.ts';
import { requireCaller } from '../shared/authorize.ts';
import { MailError } from '../shared/errors.ts';
import { publicError, readJson, sendJson } from '../shared/http.ts';
import type { ServiceHandler } from '../shared/secure-service.ts';
import { KEY_ID_PATTERN, type KeyService } from '../crypto/key-service.ts';
import { KEYS_PATH } from '../crypto/http-key-service.ts';

const keyId = z.string().regex(KEY_ID_PATTERN);
const base64 = z.string().max(1024).regex(/^[A-Za-z0-9+/]*={0,2}$/);
const wrapSchema = z.object({ keyId, dataKey: base64 }).strict();
const unwrapSchema = z.object({ keyId, wrapped: base64 }).strict();

export interface KeyRoutesOptions {
  keys: KeyService;
  audit: AuditLog;
  /** Asserted subjects of the callers. */
  callers: { messages: string; lifetime: string };
}

export function keyRoutes(options: KeyRoutesOptions): ServiceHandler {
  const { keys, audit, callers } = options;
  return async (req, res, scope) => {
    const path = (req.url ?? '').split('?')[0]!;
    const actor = scope.identity.subject;
    let action = 'key.unknown';
    let id: string | undefined;
    try {
      if (req.method === 'POST' && path === `${KEYS_PATH}/wrap`) {
        action = 'key.wrap';
        requireCaller(scope.identity, [callers.messages]);
        const body = await readJson(req, wrapSchema, 4096);
        id = body.keyId;
        const wrapped = await keys.wrap(body.keyId, Buffer.from(body.dataKey, 'base64'));
        audit.record({ action, outcome: 'allowed', actor, messageId: id, requestId: scope.requestId });
        sendJson(res, 200, { wrapped: Buffer.from(wrapped).toString('base64') });
        return;
      }
      if (req.method === 'POST' && path === `${KEYS_PATH}/unwrap`) {
        action = 'key.unwrap';
        requireCaller(scope.identity, [callers.messages]);
        const body = await readJson(req, unwrapSchema, 4096);
        id = body.keyId;
        const dataKey = await keys.unwrap(body.keyId, Buffer.from(body.wrapped, 'base64'));
        audit.record({ action, outcome: 'allowed', actor, messageId: id, requestId: scope.requestId });
        sendJson(res, 200, { dataKey: Buffer.from(dataKey).toString('base64') });
        return;
      }
      const m = /^\/svc\/keys\/keys\/([^/]+)$/.exec(path);
      if (m && req.method === 'DELETE') {
        action = 'key.destroy';
        requireCaller(scope.identity, [callers.messages, callers.lifetime]);
        const parsed = keyId.safeParse(m[1]);
        if (!parsed.success) throw new MailError('MAIL_INPUT_INVALID', { detail: 'key id has the wrong form' });
        id = parsed.data;
        await keys.destroy(id);
        audit.record({ action, outcome: 'allowed', actor, messageId: id, requestId: scope.requestId });
        res.writeHead(204).end();
        return;
      }
      throw new MailError('MAIL_NOT_FOUND', { detail: `${req.method} ${path}` });
    } catch (err) {
      const e = publicError(err);
      audit.record({ action, outcome: e.status >= 500 ? 'failed' : 'denied', actor, messageId: id, reason: e.code, requestId: scope.requestId });
      throw err;
    }
  };
}
