/**
 * `audit verify` on SQLite checks the actor index against the records it walks
 * (src/audit/actor-index-check.ts) and asks the SQL form only when that check is in doubt.
 * The check must never call a tampered index clean: each attack of actor-index-tamper.test.ts,
 * and the ones that only this way of reading could miss (an entry hidden below every rowid a
 * scan starts from, text whose stored bytes differ but read the same, a mark moved mid-walk),
 * must leave it in doubt. Windows smaller than the chain exercise the windowed comparison.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { writeChain } from './support/chain.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { ActorIndexCheck } from '../../src/audit/actor-index-check.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { generateSigningJwk, signingKeyFromJwk, type AuditSigningKey } from '../../src/audit/signing-key.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { SCAN_ACTOR, SCAN_SEQ, SCAN_TIME, scanAuditRecords } from '../../src/store/repos/audit-scan.ts';
import type { Store } from '../../src/store/index.ts';

describe('audit verify: the actor index checked alongside the walk (SQLite)', () => {
  let db: TestDatabase;
  let store: Store;
  let key: AuditSigningKey;
  let chains = 0;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    key = await signingKeyFromJwk(await generateSigningJwk());
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  async function indexedChain(): Promise<string> {
    const chain = `c${++chains}`;
    await writeChain(store, { chain, records: 300, key, spoolRoot: db.dir });
    return chain;
  }

  /** Walks the chain as verify does and returns the check's verdict; `midWalk` runs after the first page. */
  async function checkClean(chain: string, window: number, midWalk?: () => Promise<void>): Promise<boolean> {
    const repo = createAuditRepo(store.db, store.dialect);
    const check = await ActorIndexCheck.start(store, repo, chain, window);
    assert.ok(check, 'SQLite has the fast reader');
    let pages = 0;
    for await (const page of scanAuditRecords(store.db, store.dialect, chain, 0, 100)) {
      for (const r of page) if (check.add(r[SCAN_SEQ], r[SCAN_ACTOR], r[SCAN_TIME])) await check.compareWindow();
      if (++pages === 1) await midWalk?.();
    }
    return check.clean();
  }

  const windows = [1 << 21, 64, 7];

  it('calls an untouched index clean, in one window and in several', async () => {
    const chain = await indexedChain();
    for (const w of windows) assert.equal(await checkClean(chain, w), true, `window ${w}`);
    assert.equal((await verifyAudit(store, { trustedKeys: [key.publicJwk], chain })).ok, true);
  });

  const attacks: [string, (chain: string) => Promise<void>][] = [
    ['an entry deleted (the record hidden from query --actor)', (chain) => sql`delete from audit_actor_index where chain = ${chain} and seq = 150`.execute(store.db).then(() => {})],
    ['an entry\'s time moved out of a --since window', (chain) => sql`update audit_actor_index set time = time - 86400000 where chain = ${chain} and seq = 120`.execute(store.db).then(() => {})],
    ['an entry naming another actor', (chain) => sql`update audit_actor_index set actor = 'mallory' where chain = ${chain} and seq = 77`.execute(store.db).then(() => {})],
    ['a second entry listing a record under another actor', (chain) => sql`insert into audit_actor_index (actor, time, chain, seq) select 'mallory', time, chain, seq from audit_records where chain = ${chain} and seq = 200`.execute(store.db).then(() => {})],
    ['an entry planted at the lowest rowid, below where a scan from 0 would start', (chain) => sql`insert into audit_actor_index (rowid, actor, time, chain, seq) select -9223372036854775808, 'mallory', time, chain, seq from audit_records where chain = ${chain} and seq = 10`.execute(store.db).then(() => {})],
    ['an entry whose actor is stored as other bytes that read the same (U+FFFD)', async (chain) => {
      await sql`update audit_records set actor = cast(x'75ff' as text) where chain = ${chain} and seq = 33`.execute(store.db);
      await sql`update audit_actor_index set actor = cast(x'75fe' as text) where chain = ${chain} and seq = 33`.execute(store.db);
    }],
    ['an entry\'s time stored as text', (chain) => sql`update audit_actor_index set time = 'x' || time where chain = ${chain} and seq = 5`.execute(store.db).then(() => {})],
  ];

  for (const [name, attack] of attacks) {
    it(`is in doubt (and leaves it to the SQL form) after ${name}`, async () => {
      const chain = await indexedChain();
      assert.equal(await checkClean(chain, 1 << 21), true, 'clean before the attack');
      await attack(chain);
      for (const w of windows) assert.equal(await checkClean(chain, w), false, `window ${w}`);
    });
  }

  it('is in doubt when the mark moves while the walk runs (a live writer\'s index run): the SQL form judges the chain as it then stands', async () => {
    const chain = await indexedChain();
    await sql`update audit_chain_heads set actor_indexed_seq = 250 where chain = ${chain}`.execute(store.db);
    assert.equal(await checkClean(chain, 64), true, 'records above the mark need no entry');
    assert.equal(await checkClean(chain, 64, () => sql`update audit_chain_heads set actor_indexed_seq = 300 where chain = ${chain}`.execute(store.db).then(() => {})), false);
  });

  it('is in doubt when the mark is past the head', async () => {
    const chain = await indexedChain();
    await sql`update audit_chain_heads set actor_indexed_seq = 400 where chain = ${chain}`.execute(store.db);
    assert.equal(await checkClean(chain, 64), false);
    const report = await verifyAudit(store, { trustedKeys: [key.publicJwk], chain });
    assert.deepEqual(report.problems.map((p) => p.kind), ['index']);
  });
});
