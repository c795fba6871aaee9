/**
 * Contract of the kv repository (oidc-provider adapter storage), run inside the store
 * contract for every backend. Time is an injected clock: nothing sleeps on a TTL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createKvRepo, type KvRepo, type Store } from '../../src/store/index.ts';
import { rejectsWithCode } from './contract.ts';

export function registerKvContract(getStore: () => Store): void {
  describe('kv repository', () => {
    // A clock per test, far from the real one, so tests never see each other's records expire.
    const clock = (start = Date.UTC(2030, 0, 1)) => {
      const state = { t: start };
      return { state, kv: (): KvRepo => createKvRepo(getStore().db, { now: () => state.t }) };
    };
    const ns = () => `ns-${randomUUID()}`;

    it('upsert then find returns the payload and secondary keys taken from it', async () => {
      const { kv } = clock();
      const n = ns();
      await kv().upsert(n, 'id1', { uid: 'u-1', grantId: 'g-1', userCode: 'ABCD-EFGH', scope: 'openid' }, 60);
      const record = await kv().find(n, 'id1');
      assert.ok(record);
      assert.deepEqual(record.payload, { uid: 'u-1', grantId: 'g-1', userCode: 'ABCD-EFGH', scope: 'openid' });
      assert.equal(record.uid, 'u-1');
      assert.equal(record.grantId, 'g-1');
      assert.equal(record.userCode, 'ABCD-EFGH');
      assert.equal(record.consumedAt, null);
      assert.equal(await kv().find(n, 'missing'), undefined);
    });

    it('an expired record is not returned by find, findByUid or findByUserCode', async () => {
      const { state, kv } = clock();
      const n = ns();
      await kv().upsert(n, 'ttl', { uid: 'ttl-uid', userCode: 'TTL-CODE' }, 60);
      state.t += 59_999;
      assert.ok(await kv().find(n, 'ttl'));
      assert.ok(await kv().findByUid(n, 'ttl-uid'));
      assert.ok(await kv().findByUserCode(n, 'TTL-CODE'));
      state.t += 1;
      assert.equal(await kv().find(n, 'ttl'), undefined);
      assert.equal(await kv().findByUid(n, 'ttl-uid'), undefined);
      assert.equal(await kv().findByUserCode(n, 'TTL-CODE'), undefined);
    });

    it('exists says whether a live record of the id is in any of the namespaces', async () => {
      const { state, kv } = clock();
      const [a, b, c] = [ns(), ns(), ns()];
      await kv().upsert(b, 'tok', { v: 1 }, 60);
      assert.equal(await kv().exists([a, b], 'tok'), true);
      assert.equal(await kv().exists([b], 'tok'), true);
      assert.equal(await kv().exists([a, c], 'tok'), false);
      assert.equal(await kv().exists([a, b], 'other'), false);
      assert.equal(await kv().exists([], 'tok'), false);
      assert.equal(await kv().exists([a, b], ''), false);
      state.t += 60_000;
      assert.equal(await kv().exists([a, b], 'tok'), false, 'an expired record counts as absent');
    });

    it('a record without expiresInSec never expires', async () => {
      const { state, kv } = clock();
      const n = ns();
      await kv().upsert(n, 'forever', { a: 1 });
      state.t += 50 * 365 * 24 * 3600 * 1000;
      assert.equal((await kv().find(n, 'forever'))?.expiresAt, null);
    });

    it('upsert replaces payload and TTL of an existing record', async () => {
      const { state, kv } = clock();
      const n = ns();
      await kv().upsert(n, 'r', { v: 1 }, 10);
      await kv().upsert(n, 'r', { v: 2 }, 100);
      state.t += 50_000;
      assert.deepEqual((await kv().find(n, 'r'))?.payload, { v: 2 });
    });

    it('a replayed one-time code is consumed exactly once, even concurrently', async () => {
      const { kv } = clock();
      const n = ns();
      await kv().upsert(n, 'code', { grantId: 'g' }, 60);
      const results = await Promise.all(Array.from({ length: 10 }, () => kv().consume(n, 'code')));
      assert.equal(results.filter(Boolean).length, 1);
      const record = await kv().find(n, 'code');
      assert.ok(record?.consumedAt, 'consumedAt is set and the record is still findable for replay detection');
      assert.equal(await kv().consume(n, 'code'), false);
    });

    it('upsert keeps consumedAt, so re-saving a consumed code does not make it reusable', async () => {
      const { kv } = clock();
      const n = ns();
      await kv().upsert(n, 'code', { v: 1 }, 60);
      assert.equal(await kv().consume(n, 'code'), true);
      await kv().upsert(n, 'code', { v: 2 }, 60);
      assert.ok((await kv().find(n, 'code'))?.consumedAt);
      assert.equal(await kv().consume(n, 'code'), false);
    });

    it('consume of a missing or expired record returns false', async () => {
      const { state, kv } = clock();
      const n = ns();
      assert.equal(await kv().consume(n, 'nope'), false);
      await kv().upsert(n, 'old', {}, 1);
      state.t += 1000;
      assert.equal(await kv().consume(n, 'old'), false);
    });

    it('claim wins exactly once among concurrent claims of one id, and again after the record expired', async () => {
      const { state, kv } = clock();
      const n = ns();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => kv().claim(n, 'jti', { i }, 60)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await kv().claim(n, 'jti', {}, 60), false);
      state.t += 60_000;
      assert.equal(await kv().claim(n, 'jti', { again: true }, 60), true, 'an expired record is not a replay');
      assert.deepEqual((await kv().find(n, 'jti'))?.payload, { again: true });
    });

    it('findByUid and findByUserCode are scoped to their namespace', async () => {
      const { kv } = clock();
      const a = ns();
      const b = ns();
      await kv().upsert(a, 's1', { uid: 'shared-uid', userCode: 'SHARED' }, 60);
      assert.equal((await kv().findByUid(a, 'shared-uid'))?.id, 's1');
      assert.equal((await kv().findByUserCode(a, 'SHARED'))?.id, 's1');
      assert.equal(await kv().findByUid(b, 'shared-uid'), undefined);
      assert.equal(await kv().findByUserCode(b, 'SHARED'), undefined);
    });

    it('explicit keys override the payload fields', async () => {
      const { kv } = clock();
      const n = ns();
      await kv().upsert(n, 'k', { uid: 'from-payload' }, 60, { uid: 'explicit' });
      assert.equal((await kv().findByUid(n, 'explicit'))?.id, 'k');
      assert.equal(await kv().findByUid(n, 'from-payload'), undefined);
    });

    it('revokeByGrantId deletes every record of the grant across namespaces and nothing else', async () => {
      const { kv } = clock();
      const grant = `grant-${randomUUID()}`;
      const other = `grant-${randomUUID()}`;
      const [at, rt, code] = [ns(), ns(), ns()];
      await kv().upsert(at, 'a1', { grantId: grant }, 60);
      await kv().upsert(rt, 'r1', { grantId: grant }, 60);
      await kv().upsert(code, 'c1', { grantId: grant }, 60);
      await kv().upsert(at, 'a2', { grantId: other }, 60);
      assert.equal(await kv().revokeByGrantId(grant), 3);
      assert.equal(await kv().find(at, 'a1'), undefined);
      assert.equal(await kv().find(rt, 'r1'), undefined);
      assert.equal(await kv().find(code, 'c1'), undefined);
      assert.ok(await kv().find(at, 'a2'));
      assert.equal(await kv().revokeByGrantId(grant), 0);
    });

    it('revokeByGrantId leaves the records of the namespaces it is told to keep', async () => {
      const { kv } = clock();
      const grant = `grant-${randomUUID()}`;
      const [at, kept] = [ns(), ns()];
      await kv().upsert(at, 'a1', { grantId: grant }, 60);
      await kv().upsert(kept, 'k1', { grantId: grant }, 60);
      assert.equal(await kv().revokeByGrantId(grant, [kept]), 1);
      assert.equal(await kv().find(at, 'a1'), undefined);
      assert.ok(await kv().find(kept, 'k1'));
      assert.equal(await kv().revokeByGrantId(grant), 1, 'without keep, they go too');
    });

    it('findByGrantId lists the live records of one grant in one namespace, oldest first', async () => {
      const { state, kv } = clock();
      const grant = `grant-${randomUUID()}`;
      const [n, other] = [ns(), ns()];
      await kv().upsert(n, 'j1', { jti: 'j1' }, 60, { grantId: grant });
      state.t += 1;
      await kv().upsert(n, 'j2', { jti: 'j2' }, 10, { grantId: grant });
      await kv().upsert(n, 'x', {}, 60, { grantId: `grant-${randomUUID()}` });
      await kv().upsert(other, 'o', {}, 60, { grantId: grant });
      assert.deepEqual((await kv().findByGrantId(n, grant)).map((r) => [r.id, r.grantId, r.payload]), [['j1', grant, { jti: 'j1' }], ['j2', grant, { jti: 'j2' }]]);
      state.t += 10_000;
      assert.deepEqual((await kv().findByGrantId(n, grant)).map((r) => r.id), ['j1'], 'an expired record is not listed');
      assert.deepEqual(await kv().findByGrantId(n, `grant-${randomUUID()}`), []);
    });

    it('destroy deletes one record and reports whether it existed', async () => {
      const { kv } = clock();
      const n = ns();
      await kv().upsert(n, 'd', {}, 60);
      assert.equal(await kv().destroy(n, 'd'), true);
      assert.equal(await kv().find(n, 'd'), undefined);
      assert.equal(await kv().destroy(n, 'd'), false);
    });

    it('deleteExpired removes expired records only', async () => {
      // Its own far-future clock: every record of other tests is expired for it, so count
      // only what this test can see remains.
      const { state, kv } = clock(Date.UTC(2031, 0, 1));
      const n = ns();
      await kv().upsert(n, 'short', {}, 10);
      await kv().upsert(n, 'long', {}, 1000);
      await kv().upsert(n, 'never', {});
      state.t += 10_000;
      assert.ok(await kv().deleteExpired() >= 1);
      const left = await getStore().db.selectFrom('kv_records').select('id').where('namespace', '=', n).orderBy('id').execute();
      assert.deepEqual(left.map((r) => r.id), ['long', 'never']);
    });

    it('a payload with __proto__ keys round-trips as data and pollutes no prototype', async () => {
      const { kv } = clock();
      const n = ns();
      const hostile = JSON.parse('{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}},"nested":{"__proto__":{"x":1}}}');
      await kv().upsert(n, 'p', hostile, 60);
      const back = (await kv().find(n, 'p'))?.payload as Record<string, unknown>;
      assert.deepEqual(back, hostile);
      assert.ok(Object.hasOwn(back, '__proto__'), '__proto__ stays an own data property');
      assert.equal(Object.getPrototypeOf(back), Object.prototype);
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      assert.equal((back as { isAdmin?: unknown }).isAdmin, undefined);
    });

    it('unicode, NUL characters, lone surrogates and large strings round-trip unchanged', async () => {
      const { kv } = clock();
      const n = ns();
      const payload = {
        unicode: 'zaï 😀 ‮rtl‬ e\u0301 日本語 \u2028\u2029',
        nul: 'a\u0000b\u0000',
        lone: '\ud800x\udfff',
        big: 'x'.repeat(4 * 1024 * 1024) + '😀',
        numbers: [0, -1, 1e308, 5e-324, 2 ** 53 - 1],
        nested: { deep: [[[[{ ok: true, nothing: null }]]]] },
      };
      await kv().upsert(n, 'u', payload, 60);
      assert.deepEqual((await kv().find(n, 'u'))?.payload, payload);
    });

    it('SQL metacharacters in namespace, id and keys are stored verbatim and harmless', async () => {
      const { kv } = clock();
      const evil = `ns'; drop table kv_records; -- ${randomUUID()}`;
      const id = `" or 1=1 --\\`;
      await kv().upsert(evil, id, { uid: `' or ''='` }, 60);
      assert.equal((await kv().find(evil, id))?.id, id);
      assert.equal((await kv().findByUid(evil, `' or ''='`))?.namespace, evil);
      assert.equal(await kv().find(evil, 'other'), undefined);
    });

    it('a payload JSON cannot represent is refused with ERR_STORE_VALUE_INVALID and nothing is written', async () => {
      const { kv } = clock();
      const n = ns();
      await rejectsWithCode(kv().upsert(n, 'big', { n: 10n }, 60), 'ERR_STORE_VALUE_INVALID');
      await rejectsWithCode(kv().upsert(n, 'undef', undefined, 60), 'ERR_STORE_VALUE_INVALID');
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await rejectsWithCode(kv().upsert(n, 'cyc', cyclic, 60), 'ERR_STORE_VALUE_INVALID');
      await rejectsWithCode(kv().upsert(n, 'ttl', {}, -1), 'ERR_STORE_VALUE_INVALID');
      await rejectsWithCode(kv().upsert(n, 'ttl', {}, Number.NaN), 'ERR_STORE_VALUE_INVALID');
      assert.equal(await kv().find(n, 'big'), undefined);
      assert.equal(await kv().find(n, 'undef'), undefined);
      assert.equal(await kv().find(n, 'cyc'), undefined);
      assert.equal(await kv().find(n, 'ttl'), undefined);
    });

    it('hostile keys (NUL, lone surrogate, 1 MB) are refused on write and simply not found on lookup', async () => {
      const { kv } = clock();
      const n = ns();
      await kv().upsert(n, 'real', { uid: 'real-uid', grantId: 'real-grant' }, 60);
      for (const key of ['a\u0000b', '\ud800', 'x'.repeat(1024 * 1024), '']) {
        await rejectsWithCode(kv().upsert(n, key, {}, 60), 'ERR_STORE_VALUE_INVALID');
        await rejectsWithCode(kv().upsert(n, 'ok-id', { uid: key }, 60), 'ERR_STORE_VALUE_INVALID');
        assert.equal(await kv().find(n, key), undefined);
        assert.equal(await kv().findByUid(n, key), undefined);
        assert.equal(await kv().findByUserCode(n, key), undefined);
        assert.equal(await kv().consume(n, key), false);
        assert.equal(await kv().destroy(n, key), false);
        assert.equal(await kv().revokeByGrantId(key), 0);
        assert.deepEqual(await kv().findByGrantId(n, key), []);
      }
      assert.equal(await kv().find(n, 'ok-id'), undefined, 'a refused upsert writes nothing');
      assert.ok(await kv().find(n, 'real'));
      // A lone surrogate must not collide with a stored U+FFFD key after UTF-8 conversion.
      await kv().upsert(n, '\ufffd', { v: 1 }, 60);
      assert.equal(await kv().find(n, '\ud800'), undefined);
    });

    it('works inside a transaction and rolls back with it', async () => {
      const n = ns();
      await assert.rejects(getStore().transaction(async (trx) => {
        const kv = createKvRepo(trx);
        await kv.upsert(n, 'in-tx', { a: 1 }, 60);
        assert.ok(await kv.find(n, 'in-tx'));
        throw new Error('rollback');
      }));
      assert.equal(await createKvRepo(getStore().db).find(n, 'in-tx'), undefined);
    });
  });
}
