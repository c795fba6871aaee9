/**
 * Held bodies are kept no longer than needed, on SQLite and PostgreSQL (skipped without one,
 * failing under GATEHOUSE_REQUIRE_SERVICES=1): the body an approver reads stays while the
 * approval can still be used (pending, approved) and is erased by the very UPDATE that makes it
 * used, denied or expired, or by the sweep for approvals whose deadline passed unnoticed. The
 * digest, size and binding stay, and `gatehouse approvals show` says the body was erased.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { loadConfigFile } from '../../src/core/config/load.ts';
import type { Store } from '../../src/store/types.ts';
import { createApprovalsRepo, type ApprovalBinding, type ApprovalsRepo } from '../../src/store/repos/approvals-repo.ts';
import { newApprovalId } from '../../src/approvals/approval-id.ts';
import * as bodyErased from '../../src/store/migrations/0017-approvals-body-erased.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createBackend, gatehouse, show, type Backend } from '../cli/support/cli.ts';

const body = Buffer.from('{"amount":250000,"iban":"DE89 3704 0044 0532 0130 00"}');
const binding: ApprovalBinding = {
  routeId: 'payments', requester: 'usr_alice', requesterIssuer: 'https://gatehouse.test', method: 'POST',
  host: 'gatehouse.test', path: '/payments/transfer', query: '', bodySha256: 'c'.repeat(64),
  contentType: 'application/json', contentEncoding: null,
};

for (const name of ['sqlite', 'postgres'] as const) {
  const skip = name === 'postgres' ? await serviceOrSkip('postgres') : false;
  describe(`held bodies are erased once an approval is over, on ${name}`, { skip }, () => {
    let backend: Backend;
    let configFile: string;
    let store: Store;
    let repo: ApprovalsRepo;

    before(async () => {
      backend = await createBackend(name);
      configFile = await backend.writeConfig();
      const { config } = await loadConfigFile(configFile);
      store = await openStoreFromConfig(config);
      await store.migrate();
      repo = createApprovalsRepo(store.db);
    });

    after(async () => {
      await store?.close();
      await backend?.close();
    });

    /** A pending approval holding `body`, decided `approved` when asked; its id. */
    async function approval(options: { approved?: boolean; expiresAt?: number; useBy?: number } = {}): Promise<string> {
      const id = newApprovalId();
      const now = Date.now();
      await repo.create({ ...binding, id, body, expiresAt: options.expiresAt ?? now + 60_000 });
      if (options.approved) assert.equal(await repo.decide(id, 'approved', 'usr_bob', now, options.useBy ?? now + 60_000), true);
      return id;
    }
    const stored = async (id: string) => (await repo.getWithBody(id))!;
    /** The body is gone, the rest of what the audit and `approvals show` need is not. */
    async function assertErased(id: string, at?: number): Promise<void> {
      const row = await stored(id);
      assert.equal(row.body, null, `${id} (${row.status}) still holds its body`);
      assert.notEqual(row.body_erased_at, null);
      if (at !== undefined) assert.equal(row.body_erased_at, at);
      assert.equal(row.body_sha256, binding.bodySha256);
      assert.equal(row.body_bytes, body.length);
      assert.equal(row.path, binding.path);
      assert.equal(row.content_type, binding.contentType);
    }
    const cliShow = (id: string, json = false) => gatehouse(['approvals', 'show', id, '--config', configFile, ...(json ? ['--json'] : [])]);

    it('the body is readable while pending and approved, and erased by the use itself; the CLI shows it erased', async () => {
      const id = await approval();
      assert.deepEqual(Buffer.from((await stored(id)).body!, 'base64url'), body);
      const now = Date.now();
      assert.equal(await repo.decide(id, 'approved', 'usr_bob', now, now + 60_000), true);
      assert.deepEqual(Buffer.from((await stored(id)).body!, 'base64url'), body, 'an approved approval can still be used: its body is kept');
      assert.equal((await stored(id)).body_erased_at, null);
      assert.equal(await repo.use(id, binding, now + 1, 'req-1'), true);
      await assertErased(id, now + 1);

      const shown = await cliShow(id);
      assert.equal(shown.status, 0, show(shown));
      assert.match(shown.stdout, new RegExp(`^body: erased ${new Date(now + 1).toISOString().replace(/\./g, '\\.')}, when the approval could no longer be used; only its sha-256 is known$`, 'm'));
      assert.ok(!shown.stdout.includes('DE89'), shown.stdout);
      assert.match(shown.stdout, /^body sha-256: +c{64}$/m);
      const json = await cliShow(id, true);
      assert.deepEqual((JSON.parse(json.stdout) as { request: { body: unknown } }).request.body, { kind: 'erased', erasedAt: new Date(now + 1).toISOString() });
    });

    it('a use given back (its request refused before it reached the upstream) keeps the same bytes again', async () => {
      const id = await approval({ approved: true });
      const now = Date.now();
      assert.equal(await repo.use(id, binding, now, 'req-1'), true);
      await assertErased(id);
      assert.equal(await repo.release(id, 'req-1', now, body), true);
      const row = await stored(id);
      assert.equal(row.status, 'approved');
      assert.deepEqual(Buffer.from(row.body!, 'base64url'), body);
      assert.equal(row.body_erased_at, null);
    });

    it('a denial erases the body in the same UPDATE; an approval does not', async () => {
      const id = await approval();
      const now = Date.now();
      assert.equal(await repo.decide(id, 'denied', 'usr_bob', now, undefined), true);
      assert.equal((await stored(id)).status, 'denied');
      await assertErased(id, now);
    });

    it('an expiry noticed by a use or decision erases the body (pending past its deadline, approved past its use window)', async () => {
      const now = Date.now();
      const pending = await approval({ expiresAt: now - 1 });
      const approved = await approval({ approved: true, useBy: now + 60_000 });
      await store.db.updateTable('approvals').set({ use_by: now - 1 }).where('id', '=', approved).execute();
      for (const id of [pending, approved]) {
        assert.equal(await repo.expire(id, now), true);
        assert.equal((await stored(id)).status, 'expired');
        await assertErased(id, now);
      }
    });

    it('the sweep expires approvals past their deadline and erases their bodies, erases a body an approval already over still holds, and leaves open approvals alone', async () => {
      const now = Date.now();
      const pendingOver = await approval({ expiresAt: now - 1 });
      const approvedOver = await approval({ approved: true });
      await store.db.updateTable('approvals').set({ use_by: now - 1 }).where('id', '=', approvedOver).execute();
      const pendingOpen = await approval();
      const approvedOpen = await approval({ approved: true });
      // Finished before bodies were erased with the status (an old row, a restored backup).
      const finishedWithBody = await approval();
      await store.db.updateTable('approvals').set({ status: 'used', used_at: now - 1000 }).where('id', '=', finishedWithBody).execute();

      const swept = await repo.sweep(now);
      assert.ok(swept.expired >= 2 && swept.erased >= 1, JSON.stringify(swept));
      for (const id of [pendingOver, approvedOver]) {
        assert.equal((await stored(id)).status, 'expired');
        await assertErased(id, now);
      }
      assert.equal((await stored(finishedWithBody)).status, 'used');
      await assertErased(finishedWithBody, now);
      for (const id of [pendingOpen, approvedOpen]) {
        assert.deepEqual(Buffer.from((await stored(id)).body!, 'base64url'), body);
        assert.equal((await stored(id)).body_erased_at, null);
      }
      assert.deepEqual(await repo.sweep(now), { expired: 0, erased: 0 }, 'a second sweep finds nothing');
    });

    it('migration 0017 erases the bodies of approvals already over when it runs, and keeps those still open', async () => {
      // Back to before 0016 (its column gone), with one approval of each status holding its body.
      await bodyErased.down(store.db);
      const ids: Record<string, string> = {};
      for (const status of ['pending', 'approved', 'used', 'denied', 'expired'] as const) {
        ids[status] = newApprovalId();
        await store.db.insertInto('approvals').values({
          id: ids[status]!, route_id: binding.routeId, requester: binding.requester, requester_issuer: binding.requesterIssuer,
          method: binding.method, host: binding.host, path: binding.path, query: binding.query, body_sha256: binding.bodySha256,
          body_bytes: body.length, content_type: binding.contentType, content_encoding: null, body: body.toString('base64url'),
          status, approver: null, created_at: Date.now(), expires_at: Date.now() + 60_000, decided_at: null, use_by: null, used_at: null, used_request_id: null,
        } as never).execute();
      }
      await bodyErased.up(store.db);
      for (const status of ['used', 'denied', 'expired']) await assertErased(ids[status]!);
      for (const status of ['pending', 'approved']) assert.deepEqual(Buffer.from((await stored(ids[status]!)).body!, 'base64url'), body, status);
    });
  });
}
