/** Opens the store described by the validated configuration (the gateway's entry point). */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import { openStore } from './open-store.ts';
import type { Store } from './types.ts';

/** `store.url`, or the embedded default `sqlite:<dataDir>/gatehouse.db`. */
export function storeUrlFromConfig(config: Pick<Config, 'dataDir' | 'store'>): string {
  return config.store.url ?? `sqlite:${join(config.dataDir, 'gatehouse.db')}`;
}

/**
 * @example
 *   const store = await openStoreFromConfig(config, logger);
 *   await store.migrate();
 */
export function openStoreFromConfig(config: Pick<Config, 'dataDir' | 'store'>, logger?: Logger): Promise<Store> {
  const { busyTimeoutMs, poolMax, connectTimeoutMs, statementTimeoutMs, idleInTransactionTimeoutMs } = config.store;
  return openStore(storeUrlFromConfig(config), {
    ...(logger ? { logger } : {}),
    busyTimeoutMs, poolMax, connectTimeoutMs, statementTimeoutMs, idleInTransactionTimeoutMs,
  });
}
