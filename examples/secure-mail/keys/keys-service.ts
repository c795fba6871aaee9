/**
 * The key service process: holds the per-message key-encryption keys in its own SQLite file
 * (sealed under its master key) and serves wrap/unwrap/destroy behind Gatehouse.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { AuditLog } from '../shared/audit.ts';
import { openDatabase } from '../shared/sqlite.ts';
import { startSecureService } from '../shared/secure-service.ts';
import { baseServiceConfigSchema, setupService } from '../shared/service-setup.ts';
import type { Running } from '../shared/run-main.ts';
import type { Logger } from 'pino';
import { LocalKeyService } from '../crypto/local-key-service.ts';
import { keyRoutes } from './key-routes.ts';

export const keysConfigSchema = baseServiceConfigSchema.extend({
  name: z.literal('keys'),
  callers: z.object({ messages: z.string(), lifetime: z.string() }).strict(),
  /** File with the 32-byte master key (base64). Absent: generated once in the data directory. */
  masterKeyFile: z.string().optional(),
});

/** Reads the master key, or creates it once (0600, exclusive create so two starts cannot race). */
export function loadOrCreateMasterKey(file: string): Buffer {
  if (!existsSync(file)) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, randomBytes(32).toString('base64'));
      closeSync(fd);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return key;
}

export async function startKeysService(raw: unknown, logger?: Logger): Promise<Running & { keys: LocalKeyService; audit: AuditLog; dbFile: string }> {
  const setup = await setupService(raw, keysConfigSchema, logger);
  const { config } = setup;
  const dbFile = join(config.dataDir, 'keys.db');
  const db = openDatabase(dbFile, '', { secureDelete: true });
  const audit = new AuditLog({ service: 'keys', db, logger: setup.logger });
  const keys = new LocalKeyService(db, loadOrCreateMasterKey(config.masterKeyFile ?? join(config.dataDir, 'master.key')));
  const service = await startSecureService({
    name: 'keys', host: config.host, port: config.port, tls: setup.tls,
    allowedPeers: [config.gateway.spiffeId], verifier: setup.verifier, logger: setup.logger, audit,
    handler: keyRoutes({ keys, audit, callers: config.callers }),
  });
  return {
    port: service.port, keys, audit, dbFile,
    async close() { await service.close(); await setup.close(); db.close(); },
  };
}
