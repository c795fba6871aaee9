/** Public surface of the store area. */
export { openStore } from './open-store.ts';
export type { Store, StoreDialect, StoreHealth, StoreOptions } from './types.ts';
export type { Database } from './database.ts';
export { createKvRepo, type KvRepo, type KvRecord, type KvKeys, type KvRepoOptions } from './repos/kv-repo.ts';
export { toStoreError } from './store-errors.ts';
