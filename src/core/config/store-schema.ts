/**
 * Schema of the store (`store` key): the database URL and connection tuning.
 * The values map one to one onto `openStore(url, options)` (src/store/types.ts).
 */
import { z } from 'zod';
import { parseStoreUrl } from '../../store/store-url.ts';

const ms = (max: number) => z.number().int().min(1).max(max);

export const storeSchema = z.object({
  url: z.string().superRefine((url, ctx) => {
    // The same parse as openStore's, so that `config validate` reports what start would refuse.
    try {
      parseStoreUrl(url);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as { detail?: string }).detail?.replace(/^store\.url: /, '') ?? 'not a store URL' });
    }
  }).optional().describe('`sqlite:<file>` (default: <dataDir>/gatehouse.db), `sqlite::memory:` or `postgres://…`. See docs/store.md.'),
  busyTimeoutMs: ms(600_000).default(5_000).describe('SQLite: how long a write waits for another connection holding the database file: another process, or the audit commit thread (`audit.commitThread`), whose batch of `audit.batchMaxEvents` records holds it for milliseconds; a write still waiting after it fails with ERR_STORE_UNAVAILABLE.'),
  poolMax: z.number().int().min(1).max(1_000).default(10).describe('PostgreSQL: most connections of the instance\'s pool; the audit commit thread (`audit.commitThread`) opens up to 2 more of its own.'),
  connectTimeoutMs: ms(600_000).default(5_000).describe('PostgreSQL: time to obtain a connection before failing with ERR_STORE_UNAVAILABLE.'),
  statementTimeoutMs: ms(3_600_000).default(30_000).describe('PostgreSQL: server-side limit on one statement.'),
  idleInTransactionTimeoutMs: ms(3_600_000).default(60_000).describe('PostgreSQL: a transaction left idle this long is aborted by the server.'),
}).strict();

export type StoreConfig = z.infer<typeof storeSchema>;
