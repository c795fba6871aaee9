/**
 * The web front end as its own service behind Gatehouse (route `/`, browser login): it serves
 * a fixed set of static files — one HTML page, one ES module, one style sheet — to logged-in
 * users only, over mutual TLS with Gatehouse like every other service. It holds no data: the
 * page talks to the documented mail API (`/api/mail`) through Gatehouse, exactly as a mobile
 * client would.
 *
 * Every answer carries a strict Content-Security-Policy: scripts and styles only from this
 * origin, no inline script or style, no framing, no plugins, forms and fetches to this origin.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Logger } from 'pino';
import { AuditLog } from '../shared/audit.ts';
import { requireUser } from '../shared/authorize.ts';
import { MailError } from '../shared/errors.ts';
import { openDatabase } from '../shared/sqlite.ts';
import { startSecureService } from '../shared/secure-service.ts';
import { baseServiceConfigSchema, setupService } from '../shared/service-setup.ts';
import type { Running } from '../shared/run-main.ts';

export const webConfigSchema = baseServiceConfigSchema.extend({ name: z.literal('web') });

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
].join('; ');

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), 'public');

/** The only files served: a fixed table, so no request path ever reaches the file system. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export async function startWebService(raw: unknown, logger?: Logger): Promise<Running & { audit: AuditLog }> {
  const setup = await setupService(raw, webConfigSchema, logger);
  const { config } = setup;
  const files = new Map(Object.entries(FILES).map(([path, f]) => [path, { type: f.type, body: readFileSync(join(PUBLIC, f.file)) }]));
  const db = openDatabase(join(config.dataDir, 'web.db'), '');
  const audit = new AuditLog({ service: 'web', db, logger: setup.logger });
  const service = await startSecureService({
    name: 'web', host: config.host, port: config.port, tls: setup.tls,
    allowedPeers: [config.gateway.spiffeId], verifier: setup.verifier, logger: setup.logger, audit,
    async handler(req, res, scope) {
      requireUser(scope.identity);
      const path = (req.url ?? '/').split('?')[0]!;
      const file = files.get(path);
      if (!file) throw new MailError('MAIL_NOT_FOUND', { detail: `no file ${path}` });
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new MailError('MAIL_METHOD_NOT_ALLOWED', { detail: `${req.method} ${path}` });
      res.writeHead(200, {
        'content-type': file.type,
        'content-length': file.body.length,
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        // The page shows whose mail it is; never cache it in a shared or back-forward cache.
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : file.body);
    },
  });
  return { port: service.port, audit, async close() { await service.close(); await setup.close(); db.close(); } };
}
