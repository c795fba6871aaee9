/**
 * The approvals store on SQLite and PostgreSQL (skipped without one, failing under
 * GATEHOUSE_REQUIRE_SERVICES=1): two instances — two separate store connections — racing to
 * use or to decide one approval, and the read-only `gatehouse approvals list|show`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { loadConfigFile } from '../../src/core/config/load.ts';
import type { Store } from '../../src/store/types.ts';
import { createApprovalsRepo, type ApprovalBinding } from '../../src/store/repos/approvals-repo.ts';
import { newApprovalId } from '../../src/approvals/approval-id.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createBackend, gatehouse, show, type Backend } from '../cli/support/cli.ts';

const binding: ApprovalBinding = {
  routeId: 'payments', requester: 'usr_alice', requesterIssuer: 'https://gatehouse.test', method: 'POST',
  host: 'gatehouse.test', path: '/payments/transfer', query: '', bodySha256: 'a'.repeat(64),
  contentType: 'application/json', contentEncoding: null,
};

for (const name of ['sqlite', 'postgres'] as const) {
  const skip = name === 'postgres' ? await serviceOrSkip('postgres') : false;
  describe(`approvals store and CLI on ${name}`, { skip }, () => {
    let backend: Backend;
    let configFile: string;
    let one: Store;
    let two: Store;

    before(async () => {
      backend = await createBackend(name);
      configFile = await backend.writeConfig();
      const { config } = await loadConfigFile(configFile);
      one = await openStoreFromConfig(config);
      await one.migrate();
      two = await openStoreFromConfig(config);
    });

    after(async () => {
      await one?.close();
      await two?.close();
      await backend?.close();
    });

    it('two instances racing to use one approval: exactly one use succeeds', async () => {
      const a = createApprovalsRepo(one.db);
      const b = createApprovalsRepo(two.db);
      for (let round = 0; round < 5; round++) {
        const id = newApprovalId();
        const now = Date.now();
        await a.create({ ...binding, id, body: Buffer.from('{}'), expiresAt: now + 60_000 });
        assert.equal(await a.decide(id, 'approved', 'usr_bob', now, now + 60_000), true);
        const results = await Promise.all([a.use(id, binding, now, 'req-1'), b.use(id, binding, now, 'req-2'), a.use(id, binding, now, 'req-3'), b.use(id, binding, now, 'req-4')]);
        assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results.join(',')}`);
        assert.equal((await a.get(id))!.status, 'used');
      }
    });

    it('a release gives the approval back only to the request that used it, with the same use window, and only once', async () => {
      const a = createApprovalsRepo(one.db);
      const b = createApprovalsRepo(two.db);
      const id = newApprovalId();
      const now = Date.now();
      await a.create({ ...binding, id, body: Buffer.from('{}'), expiresAt: now + 60_000 });
      await a.decide(id, 'approved', 'usr_bob', now, now + 60_000);
      assert.equal(await a.use(id, binding, now, 'req-1'), true);
      assert.equal((await b.get(id))!.used_request_id, 'req-1');
      // Another request's refusal, or the same request id with another use's time, gives nothing back.
      assert.equal(await b.release(id, 'req-2', now, Buffer.from('{}')), false);
      assert.equal(await b.release(id, 'req-1', now + 1, Buffer.from('{}')), false);
      assert.equal((await b.get(id))!.status, 'used');
      // Two instances releasing the same use at once: one changes the row.
      const released = await Promise.all([a.release(id, 'req-1', now, Buffer.from('{}')), b.release(id, 'req-1', now, Buffer.from('{}'))]);
      assert.deepEqual(released.filter(Boolean).length, 1);
      const row = (await a.get(id))!;
      assert.equal(row.status, 'approved');
      assert.equal(row.used_at, null);
      assert.equal(row.used_request_id, null);
      assert.equal(Number(row.use_by), now + 60_000);
      // A late second release of the first use cannot undo the next one.
      assert.equal(await b.use(id, binding, now + 5, 'req-3'), true);
      assert.equal(await a.release(id, 'req-1', now, Buffer.from('{}')), false);
      assert.equal((await a.get(id))!.status, 'used');
    });

    it('two approvers racing to decide: exactly one decision counts', async () => {
      const a = createApprovalsRepo(one.db);
      const b = createApprovalsRepo(two.db);
      const id = newApprovalId();
      const now = Date.now();
      await a.create({ ...binding, id, body: Buffer.from('{}'), expiresAt: now + 60_000 });
      const results = await Promise.all([a.decide(id, 'approved', 'usr_bob', now, now + 60_000), b.decide(id, 'denied', 'usr_dave', now, undefined)]);
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('a use with any bound field changed changes nothing', async () => {
      const a = createApprovalsRepo(one.db);
      const id = newApprovalId();
      const now = Date.now();
      await a.create({ ...binding, id, body: Buffer.from('{}'), expiresAt: now + 60_000 });
      await a.decide(id, 'approved', 'usr_bob', now, now + 60_000);
      for (const change of [{ requester: 'usr_mallory' }, { requesterIssuer: 'https://evil.test' }, { path: '/payments/other' }, { query: 'x=1' }, { bodySha256: 'b'.repeat(64) }, { method: 'DELETE' }, { host: 'other.test' }, { routeId: 'other' },
        // The same bytes under another type or encoding; a field the approved request did not have (absent stays absent), or lacking one it had.
        { contentType: 'multipart/form-data; boundary=x' }, { contentType: null }, { contentType: 'application/json\ntext/plain' }, { contentEncoding: 'gzip' }, { contentEncoding: '' }]) {
        assert.equal(await a.use(id, { ...binding, ...change }, now, 'req'), false, JSON.stringify(change));
      }
      assert.equal((await a.get(id))!.status, 'approved');
    });

    it('an approval of a request without Content-Type or Content-Encoding is used only by a request without them (absent matches absent, not NULL = NULL)', async () => {
      const a = createApprovalsRepo(one.db);
      const bare: ApprovalBinding = { ...binding, contentType: null, contentEncoding: null };
      const id = newApprovalId();
      const now = Date.now();
      await a.create({ ...bare, id, body: Buffer.from('{}'), expiresAt: now + 60_000 });
      await a.decide(id, 'approved', 'usr_bob', now, now + 60_000);
      for (const change of [{ contentType: '' }, { contentType: 'application/json' }, { contentEncoding: 'identity' }]) {
        assert.equal(await a.use(id, { ...bare, ...change }, now, 'req'), false, JSON.stringify(change));
      }
      assert.equal(await a.use(id, bare, now, 'req'), true);
    });

    it('the held body is stored byte for byte (every byte value) and read back only by getWithBody, not by get or list', async () => {
      const a = createApprovalsRepo(one.db);
      const b = createApprovalsRepo(two.db);
      const id = newApprovalId();
      const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(256 * 1024)]);
      await a.create({ ...binding, id, body, expiresAt: Date.now() + 60_000 });
      const row = await b.getWithBody(id);
      assert.deepEqual(Buffer.from(row!.body!, 'base64url'), body);
      assert.equal(row!.body_bytes, body.length);
      assert.equal('body' in (await b.get(id))!, false);
      assert.equal((await b.list()).some((r) => 'body' in r), false);
    });

    it('gatehouse approvals list and show print what is asked, the body, and who decided', async () => {
      const a = createApprovalsRepo(one.db);
      const id = newApprovalId();
      const now = Date.now();
      await a.create({ ...binding, id, body: Buffer.from('{"amount":100}'), expiresAt: now + 60_000 });
      await a.decide(id, 'approved', 'usr_bob', now, now + 60_000);
      const list = await gatehouse(['approvals', 'list', '--config', configFile, '--json']);
      assert.equal(list.status, 0, show(list));
      const rows = JSON.parse(list.stdout) as { id: string; status: string; request: { body?: unknown } }[];
      assert.equal(rows.find((r) => r.id === id)?.status, 'approved');
      assert.equal(rows.find((r) => r.id === id)?.request.body, undefined, 'lists carry no bodies');
      const one_ = await gatehouse(['approvals', 'show', id, '--config', configFile]);
      assert.equal(one_.status, 0, show(one_));
      assert.match(one_.stdout, /usr_bob/);
      assert.match(one_.stdout, /\/payments\/transfer/);
      assert.match(one_.stdout, /^content type: +application\/json$/m);
      assert.match(one_.stdout, /^body:\n  \| \{"amount":100\}$/m);
      const missing = await gatehouse(['approvals', 'show', 'apv_AAAAAAAAAAAAAAAAAAAAAA', '--config', configFile]);
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr + missing.stdout, /ERR_APPROVAL_NOT_FOUND/);
    });
  });
}
