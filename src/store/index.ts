/** Public surface of the store area. */
export { openStore } from './open-store.ts';
export { openStoreFromConfig, storeUrlFromConfig } from './open-from-config.ts';
export type { Store, StoreDialect, StoreHealth, StoreOptions } from './types.ts';
export type { Database } from './database.ts';
export { createKvRepo, type KvRepo, type KvRecord, type KvKeys, type KvRepoOptions } from './repos/kv-repo.ts';
export { startKvSweeper, type KvSweeper } from './repos/kv-sweeper.ts';
export { toStoreError } from './store-errors.ts';
export { toJsonText, fromJsonText } from './json-text.ts';
