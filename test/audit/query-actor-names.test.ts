/**
 * "What did alice do?" Records name a user by id (`usr_…`), but a failed login with no subject
 * (unknown account, blocked address) by the name as typed — her user name or her e-mail, which
 * sign-in takes too, lower-cased. `audit query --actor alice` found only those failures and
 * `--actor usr_…` missed them, and the ones typed with her e-mail were missed by both; any of her
 * names now finds the user's records under all of them, and a name no principal has still finds
 * what was recorded under it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { randomUUIDv7 } from 'node:crypto';
import { AuditWriter } from '../../src/audit/writer.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import { auditQueryCommand } from '../../src/audit/commands/query.ts';
import { auditExportCommand } from '../../src/audit/commands/export.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import type { Store } from '../../src/store/index.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';

const ALICE = 'usr_alice0000000001';
const redactor = createRedactor();
const loginFailed = (payload: Record<string, unknown>) => draftFromEnvelope({
  id: randomUUIDv7(), time: new Date().toISOString(), instance: 'test-1', name: 'identity.login.failed',
  payload: { clientAddress: '203.0.113.9', ...payload },
}, redactor);

async function query(store: Store, actor: string): Promise<{ actor: { subject: string }; event: string }[]> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => { text += c.toString(); });
  await auditQueryCommand(store, { actor }, out);
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('audit query --actor finds a user under every name it is recorded by', () => {
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    await new IdentityUsersRepo(store.db).insert({ id: ALICE, username: 'alice', email: 'alice@example.com', roles: [] });
    const writer = AuditWriter.open({ store, chain: 'main', instance: 'test-1', spoolDir: join(db.dir, 'spool'), signingKey: await signingKeyFromJwk(await generateSigningJwk()), checkpointEveryRecords: 100, batchMaxEvents: 100 });
    writer.append(accessDraft(1, { subject: ALICE }));
    writer.append(accessDraft(2, { subject: ALICE }));
    writer.append(loginFailed({ username: 'alice', subject: ALICE, reason: 'bad_credentials' }));
    writer.append(loginFailed({ username: 'alice', reason: 'address_blocked' }));
    // What LoginService.checkPassword emits for `Alice@Example.COM` typed from a blocked address: no subject, the identifier lower-cased.
    writer.append(loginFailed({ username: 'alice@example.com', reason: 'address_blocked', clientAddress: '198.51.100.23' }));
    writer.append(loginFailed({ username: 'mallory', reason: 'unknown_user' }));
    writer.append(accessDraft(3, { subject: 'usr_bob00000000000001' }));
    await writer.close();
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('--actor alice (a user name) lists her requests and sign-in failures, not only the failures recorded under the name', async () => {
    const records = await query(store, 'alice');
    assert.deepEqual(records.map((r) => r.event).sort(), ['gateway.request', 'gateway.request', 'identity.login.failed', 'identity.login.failed', 'identity.login.failed']);
  });

  it('--actor usr_… also lists the failed sign-ins recorded under her user name and her e-mail', async () => {
    assert.equal((await query(store, ALICE)).length, 5);
  });

  it('--actor with her e-mail finds the same records', async () => {
    assert.equal((await query(store, 'ALICE@example.com')).length, 5);
  });

  it('a sign-in attempt typed with her e-mail from a blocked address (recorded under the e-mail, no subject) is not hidden from --actor alice or --actor usr_…', async () => {
    for (const actor of ['alice', ALICE, 'Alice']) {
      const typed = (await query(store, actor)).filter((r) => r.actor.subject === 'alice@example.com');
      assert.equal(typed.length, 1, actor);
    }
  });

  it('a name no principal has still finds what was recorded under it (attempts on an unknown account), and nobody else\'s', async () => {
    const records = await query(store, 'mallory');
    assert.deepEqual(records.map((r) => r.actor.subject), ['mallory']);
  });

  it('audit export --actor resolves names the same way', async () => {
    const out = new PassThrough();
    out.resume();
    const { exported } = await auditExportCommand(store, auditSchema.parse({}), { actor: 'alice', to: 'jsonl' }, out);
    assert.equal(exported, 5);
  });
});
