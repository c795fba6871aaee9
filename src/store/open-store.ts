/**
 * `openStore(url)`: the one entry point to the database, SQLite or PostgreSQL.
 */
import { Kysely, Migrator, sql, type Dialect, type Transaction } from 'kysely';
import pino, { type Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import type { Database } from './database.ts';
import { closedStorePlugin } from './closed-store-plugin.ts';
import { guardDialect, transactionScope } from './guarded-dialect.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { registerArrayQuery } from './postgres/array-query.ts';
import { assertTlsFilesReadable } from './postgres/tls-files.ts';
import { createPostgresBackend, type PostgresBackend } from './postgres/postgres-dialect.ts';
import { NodeSqliteDialect } from './sqlite/node-sqlite-dialect.ts';
import { looseFileMode } from './sqlite/loose-file-mode.ts';
import { acquireSqlite, type SqliteHandle } from './sqlite/shared-sqlite.ts';
import { toStoreError } from './store-errors.ts';
import { parseStoreUrl } from './store-url.ts';
import type { Store, StoreConnectionSpec, StoreDialect, StoreHealth, StoreOptions } from './types.ts';

/**
 * Opens the store. SQLite is opened at once (a bad path throws ERR_STORE_UNAVAILABLE);
 * PostgreSQL connects lazily, so an unreachable server shows in `health()` and makes
 * `migrate()` and queries throw ERR_STORE_UNAVAILABLE.
 *
 * @example
 *   const store = await openStore('sqlite:./data/gatehouse.db', { logger });
 *   await store.migrate();
 */
export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const parsed = parseStoreUrl(url);
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'store' });
  const owner = Symbol('store');
  let dialect: Dialect;
  let release = (): Promise<void> | void => {};
  let pool: PostgresBackend['pool'] | undefined;
  const state = { closed: false };
  if (parsed.dialect === 'sqlite') {
    let handle: SqliteHandle | undefined;
    try {
      handle = acquireSqlite(parsed.location, { busyTimeoutMs: options.busyTimeoutMs ?? 5000, ...(options.sqliteWalCheckpointer === false ? { walCheckpointer: false } : {}) });
    } catch (error) {
      // Any failure to open the file (missing directory, permissions, not a database).
      throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: `cannot open ${parsed.display}: ${toStoreError(error).detail ?? ''}`, cause: error });
    }
    const mode = looseFileMode(parsed.location);
    if (mode !== undefined) {
      logger.warn({ store: parsed.display, mode: mode.toString(8) }, 'store: the database file is open to other users of this machine; it holds live tokens: chmod 600 it (and its -wal, -shm files)');
    }
    const opened = handle;
    dialect = new NodeSqliteDialect(() => opened);
    // The driver releases it after its last statement; this covers a store never queried.
    release = () => opened.release();
  } else {
    assertTlsFilesReadable(parsed.location);
    const backend = createPostgresBackend(parsed.location, {
      poolMax: options.poolMax ?? 10,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      statementTimeoutMs: options.statementTimeoutMs ?? 30_000,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? 60_000,
      idleTimeoutMs: 30_000,
    }, logger);
    dialect = backend.dialect;
    pool = backend.pool;
  }
  logger.info({ store: parsed.display }, 'store: opened');
  const db = new Kysely<Database>({ dialect: guardDialect(dialect, owner, () => state.closed), plugins: [closedStorePlugin(() => state.closed)] });
  // Array rows straight from the pool for audit verify's scan (postgres/array-query.ts).
  if (pool) registerArrayQuery(db, pool, owner, () => state.closed);
  const { logger: _logger, ...spec } = options;
  return new KyselyStore(parsed.dialect, db, owner, logger, options.healthTimeoutMs ?? 2000, {
    markClosed: () => { state.closed = true; },
    release: () => release(),
  }, { url, options: spec });
}

interface CloseHooks {
  /** Makes every later query fail with ERR_STORE_UNAVAILABLE. */
  markClosed(): void;
  /** Frees what the driver may never have taken over (the SQLite handle); close waits for it. */
  release(): Promise<void> | void;
}

/** Most one warning about failed health checks per this many milliseconds (see `#logFailure`). */
const HEALTH_FAILURE_LOG_INTERVAL_MS = 60_000;

class KyselyStore implements Store {
  readonly dialect: StoreDialect;
  readonly db: Kysely<Database>;
  readonly #owner: symbol;
  readonly #logger: Logger;
  readonly #healthTimeoutMs: number;
  readonly #hooks: CloseHooks;
  /** When the last failed health check was logged (performance.now()), -Infinity while healthy. */
  #lastFailureLog = -Infinity;
  /** Failed health checks not logged since then. */
  #suppressedFailures = 0;
  #closing: Promise<void> | undefined;
  /** A private field: a logged or serialized store never shows the URL's credentials. */
  readonly #spec: StoreConnectionSpec;

  constructor(dialect: StoreDialect, db: Kysely<Database>, owner: symbol, logger: Logger, healthTimeoutMs: number, hooks: CloseHooks, spec: StoreConnectionSpec) {
    this.#hooks = hooks;
    this.#spec = spec;
    this.dialect = dialect;
    this.db = db;
    this.#owner = owner;
    this.#logger = logger;
    this.#healthTimeoutMs = healthTimeoutMs;
  }

  connectionSpec(): StoreConnectionSpec {
    return { url: this.#spec.url, options: { ...this.#spec.options } };
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
      migrationTableName: 'gatehouse_migrations',
      migrationLockTableName: 'gatehouse_migrations_lock',
    });
    const { error, results = [] } = await migrator.migrateToLatest();
    for (const r of results) {
      // Both adapters run the whole run in one transaction: when any step fails, the ones
      // Kysely reports as 'Success' were rolled back with it.
      if (r.status === 'Success' && error === undefined) this.#logger.info({ migration: r.migrationName }, 'store: migration applied');
      else if (r.status === 'Success') this.#logger.warn({ migration: r.migrationName }, 'store: migration rolled back (a later one failed)');
      else if (r.status === 'Error') this.#logger.error({ migration: r.migrationName }, 'store: migration failed');
    }
    if (error !== undefined) {
      const mapped = (await this.#newerSchemaError(error)) ?? toStoreError(error);
      this.#logger.error({ err: mapped }, 'store: migrate failed');
      throw mapped;
    }
  }

  /**
   * A database already migrated by a newer release (a rollback of the deployment) holds
   * migrations this code does not know. Kysely refuses it as "corrupted migrations", which
   * reads like damage and came out as ERR_INTERNAL, a bug; it is neither. Nothing was changed.
   */
  async #newerSchemaError(error: unknown): Promise<GatehouseError | undefined> {
    let applied: string[];
    try {
      applied = (await sql<{ name: string }>`select name from gatehouse_migrations`.execute(this.db)).rows.map((r) => r.name);
    } catch {
      return undefined;
    }
    const unknown = applied.filter((name) => !Object.hasOwn(MIGRATIONS, name)).sort();
    if (unknown.length === 0) return undefined;
    const shown = unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : '');
    return new GatehouseError('ERR_STORE_UNAVAILABLE', {
      detail: `database schema is newer than this Gatehouse (it has migration ${shown}, unknown here): run the release that migrated it or a later one, or restore a backup taken before it`,
      cause: error,
    });
  }

  async health(): Promise<StoreHealth> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'health check timed out' })), this.#healthTimeoutMs);
    });
    try {
      await Promise.race([sql`select 1`.execute(this.db), timeout]);
      this.#lastFailureLog = -Infinity;
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      const mapped = toStoreError(error);
      this.#logFailure(mapped);
      return { ok: false, latencyMs: performance.now() - started, detail: mapped.code };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One warning per outage and then at most one per {@link HEALTH_FAILURE_LOG_INTERVAL_MS},
   * with the number of failures left unsaid: readiness polled in a loop runs a check per poll,
   * and one line per failed check let a poller fill the log output. A check that succeeds
   * ends the outage, so the next failure is told at once.
   */
  #logFailure(error: GatehouseError): void {
    const now = performance.now();
    if (now - this.#lastFailureLog < HEALTH_FAILURE_LOG_INTERVAL_MS) {
      this.#suppressedFailures += 1;
      return;
    }
    this.#logger.warn({ err: error, suppressed: this.#suppressedFailures || undefined }, 'store: health check failed');
    this.#lastFailureLog = now;
    this.#suppressedFailures = 0;
  }

  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => transactionScope.run(this.#owner, () => fn(trx)));
  }

  close(): Promise<void> {
    if (!this.#closing) {
      // New work is refused from now on; Kysely's destroy() lets running work finish,
      // then ends the pool / releases the file.
      this.#hooks.markClosed();
      this.#closing = this.db.destroy().finally(this.#hooks.release);
    }
    return this.#closing;
  }
}
