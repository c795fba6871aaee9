/**
 * Kysely dialect for `node:sqlite`: Kysely's own SQLite adapter, compiler and
 * introspector, with {@link NodeSqliteDriver} underneath.
 */
import {
  SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler,
  type DatabaseIntrospector, type Dialect, type DialectAdapter, type Driver, type Kysely, type QueryCompiler,
} from 'kysely';
import { NodeSqliteDriver, type OpenDatabase } from './node-sqlite-driver.ts';

export class NodeSqliteDialect implements Dialect {
  readonly #open: OpenDatabase;

  constructor(open: OpenDatabase) {
    this.#open = open;
  }

  createDriver(): Driver {
    return new NodeSqliteDriver(this.#open);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }

  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/**
 * SQLite does run DDL inside transactions, but Kysely's adapter says it does not, which
 * makes its Migrator run migrations unwrapped and unlocked: a failed migration leaves a
 * half-built schema and two instances migrating one file race each other. Saying yes
 * makes the Migrator wrap the run in one transaction, whose `BEGIN IMMEDIATE` (see the
 * driver) is the migration lock across connections and processes.
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
