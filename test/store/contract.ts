/**
 * The store contract: one suite, run against every backend (sqlite.test.ts,
 * postgres.test.ts). A backend provides empty databases and an unreachable URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { isGatehouseError } from '../../src/core/errors.ts';
import { openStore, type Store, type StoreDialect } from '../../src/store/index.ts';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';
import { registerIdentityLookupContract } from './identity-lookup-contract.ts';
import { registerKvContract } from './kv-contract.ts';

export interface TestDatabase {
  /** Opens another instance on this database (instances share its data). */
  open(): Promise<Store>;
  /** Removes the database; called once, after every instance is closed. */
  drop(): Promise<void>;
}

export interface StoreBackend {
  dialect: StoreDialect;
  /** Creates a new, empty database. */
  createDatabase(): Promise<TestDatabase>;
  /** A store URL that cannot be reached. */
  unreachableUrl(): Promise<string>;
}

/** Asserts that `promise` rejects with a GatehouseError of `code`, and returns it. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  await promise.then(() => assert.fail(`expected ${code}, but it resolved`), (error: unknown) => { caught = error; });
  assert.ok(isGatehouseError(caught), `expected a GatehouseError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

export function registerStoreContract(backend: StoreBackend): void {
  describe(`store contract (${backend.dialect})`, () => {
    let database: TestDatabase;
    let store: Store;

    before(async () => {
      database = await backend.createDatabase();
      store = await database.open();
      await store.migrate();
    });

    after(async () => {
      await store?.close();
      await database?.drop();
    });

    it('reports its dialect', () => {
      assert.equal(store.dialect, backend.dialect);
    });

    it('migrate() is idempotent and records every migration once', async () => {
      await store.migrate();
      await store.migrate();
      const rows = await sql<{ name: string }>`select name from gatehouse_migrations order by name`.execute(store.db);
      assert.deepEqual(rows.rows.map((r) => r.name), Object.keys(MIGRATIONS).sort());
    });

    it('concurrent migrate() from two instances on one empty database applies each migration once', async () => {
      const fresh = await backend.createDatabase();
      const a = await fresh.open();
      const b = await fresh.open();
      try {
        await Promise.all([a.migrate(), b.migrate(), a.migrate()]);
        const rows = await sql<{ name: string }>`select name from gatehouse_migrations order by name`.execute(b.db);
        assert.deepEqual(rows.rows.map((r) => r.name), Object.keys(MIGRATIONS).sort());
        const count = await a.db.selectFrom('kv_records').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(count.n), 0);
      } finally {
        await a.close();
        await b.close();
        await fresh.drop();
      }
    });

    it('a database already migrated by a newer Gatehouse is refused by migrate() with ERR_STORE_UNAVAILABLE naming the unknown migration, and left as it is', async () => {
      const fresh = await backend.createDatabase();
      const older = await fresh.open();
      try {
        await older.migrate();
        // What a later release leaves behind: a migration this code does not have.
        await sql`insert into gatehouse_migrations (name, timestamp) values ('9999-future-area-thing', '2031-01-01T00:00:00.000Z')`.execute(older.db);
        const error = await rejectsWithCode(older.migrate(), 'ERR_STORE_UNAVAILABLE');
        assert.match(error.message, /newer/);
        assert.match(error.message, /9999-future-area-thing/);
        const rows = await sql<{ name: string }>`select name from gatehouse_migrations order by name`.execute(older.db);
        assert.deepEqual(rows.rows.map((r) => r.name), [...Object.keys(MIGRATIONS).sort(), '9999-future-area-thing']);
      } finally {
        await older.close();
        await fresh.drop();
      }
    });

    it('health() reports ok with a latency', async () => {
      const health = await store.health();
      assert.equal(health.ok, true, health.detail);
      assert.ok(health.latencyMs >= 0);
    });

    it('a failed transaction leaves no partial writes and rethrows the error', async () => {
      const boom = new Error('boom');
      await assert.rejects(store.transaction(async (trx) => {
        await insertKv(trx, 'tx', 'first');
        await insertKv(trx, 'tx', 'second');
        throw boom;
      }), (error) => error === boom);
      assert.equal(await countNamespace(store, 'tx'), 0);
    });

    it('a unique violation inside a transaction throws ERR_STORE_CONFLICT and rolls back earlier writes', async () => {
      await insertKv(store.db, 'tx-conflict', 'existing');
      const error = await rejectsWithCode(store.transaction(async (trx) => {
        await insertKv(trx, 'tx-conflict', 'new-one');
        await insertKv(trx, 'tx-conflict', 'existing');
      }), 'ERR_STORE_CONFLICT');
      assert.ok(error.cause, 'the driver error is kept as cause');
      assert.equal(await countNamespace(store, 'tx-conflict'), 1);
    });

    it('a committed transaction returns its value and its writes are visible', async () => {
      const value = await store.transaction(async (trx) => {
        await insertKv(trx, 'tx-commit', 'a');
        await sleep(1);
        await insertKv(trx, 'tx-commit', 'b');
        return 42;
      });
      assert.equal(value, 42);
      assert.equal(await countNamespace(store, 'tx-commit'), 2);
    });

    // The "other callers" below start outside the transaction's async context, as
    // concurrent requests do, and are released from inside it.
    it('a statement issued outside a running transaction is not swept into its rollback', async () => {
      const { signal, outside } = outsideCaller(() => insertKv(store.db, 'interleave', 'outside'));
      await assert.rejects(store.transaction(async (trx) => {
        await insertKv(trx, 'interleave', 'inside');
        signal();
        await sleep(20);
        throw new Error('rollback');
      }));
      await outside;
      const ids = await store.db.selectFrom('kv_records').select('id').where('namespace', '=', 'interleave').execute();
      assert.deepEqual(ids.map((r) => r.id), ['outside']);
    });

    it('an outside reader never observes writes of a transaction that rolls back', async () => {
      const { signal, outside } = outsideCaller(() => store.db.selectFrom('kv_records').select('id').where('namespace', '=', 'dirty-read').execute());
      await assert.rejects(store.transaction(async (trx) => {
        await insertKv(trx, 'dirty-read', 'uncommitted');
        signal();
        await sleep(20);
        throw new Error('rollback');
      }));
      assert.deepEqual(await outside, []);
    });

    it('using store.db inside store.transaction() throws instead of escaping the transaction or deadlocking', async () => {
      await rejectsWithCode(store.transaction(async () => {
        await store.db.selectFrom('kv_records').select('id').execute();
      }), 'ERR_INTERNAL');
      await rejectsWithCode(store.transaction(async () => store.transaction(async () => 1)), 'ERR_INTERNAL');
      // The store is still usable afterwards.
      assert.equal((await store.health()).ok, true);
    });

    it('inserting a duplicate primary key throws ERR_STORE_CONFLICT', async () => {
      await insertKv(store.db, 'dup', 'x');
      await rejectsWithCode(insertKv(store.db, 'dup', 'x'), 'ERR_STORE_CONFLICT');
    });

    it('a dangling foreign key is refused with ERR_STORE_CONFLICT (foreign keys are enforced)', async () => {
      await store.db.schema.createTable('contract_parent').addColumn('id', 'text', (c) => c.primaryKey()).execute();
      await store.db.schema.createTable('contract_child')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('parent_id', 'text', (c) => c.notNull().references('contract_parent.id'))
        .execute();
      try {
        const db = store.db as unknown as Kysely<ContractTables>;
        await rejectsWithCode(db.insertInto('contract_child').values({ id: 'c', parent_id: 'missing' }).execute(), 'ERR_STORE_CONFLICT');
        await db.insertInto('contract_parent').values({ id: 'p' }).execute();
        await db.insertInto('contract_child').values({ id: 'c', parent_id: 'p' }).execute();
        await rejectsWithCode(db.deleteFrom('contract_parent').where('id', '=', 'p').execute(), 'ERR_STORE_CONFLICT');
      } finally {
        await store.db.schema.dropTable('contract_child').execute();
        await store.db.schema.dropTable('contract_parent').execute();
      }
    });

    it('a store pointed at an unreachable database reports unhealthy and throws ERR_STORE_UNAVAILABLE', async () => {
      const url = await backend.unreachableUrl();
      let unreachable: Store;
      try {
        unreachable = await openStore(url, { connectTimeoutMs: 2000, healthTimeoutMs: 3000 });
      } catch (error) {
        // Embedded backends find out at open time.
        assert.ok(isGatehouseError(error), String(error));
        assert.equal(error.code, 'ERR_STORE_UNAVAILABLE');
        return;
      }
      try {
        const health = await unreachable.health();
        assert.equal(health.ok, false);
        assert.equal(health.detail, 'ERR_STORE_UNAVAILABLE');
        assert.ok(!String(health.detail).includes('://'), 'health detail must not echo the URL');
        await rejectsWithCode(unreachable.migrate(), 'ERR_STORE_UNAVAILABLE');
        await rejectsWithCode(unreachable.db.selectFrom('kv_records').selectAll().execute(), 'ERR_STORE_UNAVAILABLE');
      } finally {
        await unreachable.close();
      }
    });

    it('close() is idempotent and a closed store reports unhealthy', async () => {
      const other = await database.open();
      await other.close();
      await other.close();
      const health = await other.health();
      assert.equal(health.ok, false);
    });

    it('a query on a store closed after use fails with ERR_STORE_UNAVAILABLE, not a driver message', async () => {
      const other = await database.open();
      await other.db.selectFrom('kv_records').selectAll().execute();
      await other.close();
      await rejectsWithCode(other.db.selectFrom('kv_records').selectAll().execute(), 'ERR_STORE_UNAVAILABLE');
      await rejectsWithCode(sql`select 1`.execute(other.db), 'ERR_STORE_UNAVAILABLE');
    });

    registerKvContract(() => store);
    registerIdentityLookupContract(() => store);
  });
}

/** Runs `work` once `signal()` is called, in the caller's (not the signaller's) async context. */
function outsideCaller<T>(work: () => Promise<T>): { signal: () => void; outside: Promise<T> } {
  let signal!: () => void;
  const go = new Promise<void>((resolve) => { signal = resolve; });
  const outside = go.then(work);
  return { signal, outside };
}

interface ContractTables {
  contract_parent: { id: string };
  contract_child: { id: string; parent_id: string };
}

type KvWriter = Pick<Store['db'], 'insertInto'>;

function insertKv(db: KvWriter, namespace: string, id: string) {
  return db.insertInto('kv_records').values({
    namespace, id, payload: '{}', expires_at: null, uid: null, grant_id: null, user_code: null,
    consumed_at: null, created_at: 0, updated_at: 0,
  }).execute();
}

async function countNamespace(store: Store, namespace: string): Promise<number> {
  const row = await store.db.selectFrom('kv_records').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('namespace', '=', namespace).executeTakeFirstOrThrow();
  return Number(row.n);
}
