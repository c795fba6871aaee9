/**
 * `audit query|export --chain NAME` with a name no record, head or checkpoint carries (a typo,
 * `mian`) printed nothing and exited 0, which reads as "nothing happened on that chain". It is
 * refused like a misspelt outcome, naming the chains there are (escaped: they come from the database).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { writeChain } from './support/chain.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import { auditQueryCommand } from '../../src/audit/commands/query.ts';
import { auditExportCommand } from '../../src/audit/commands/export.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import type { Store } from '../../src/store/index.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';

describe('audit query --chain', () => {
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    await writeChain(store, { chain: 'main', records: 3, key: await signingKeyFromJwk(await generateSigningJwk()), spoolRoot: db.dir });
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('a misspelt chain name is refused with ERR_AUDIT_QUERY_INVALID naming the chains, not answered with no records', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => { text += c.toString(); });
    await assert.rejects(auditQueryCommand(store, { chain: 'mian' }, out), { code: 'ERR_AUDIT_QUERY_INVALID', detail: /no audit chain "mian"; chains: main/ });
    await assert.rejects(auditExportCommand(store, auditSchema.parse({}), { chain: 'mian', to: 'jsonl' }, out), { code: 'ERR_AUDIT_QUERY_INVALID' });
    assert.equal(text, '', 'nothing printed');
    assert.equal(await auditQueryCommand(store, { chain: 'main' }, out), 3);
  });
});
