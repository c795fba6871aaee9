/**
 * `audit verify` prints names it read from the database (chain names, checkpoint key ids) and
 * from a `--checkpoints` file: exactly what an attacker who can write to the database or alter
 * that file controls. Printed raw, an escape sequence in one (SGR 8 "conceal", or a cursor-up
 * and erase-line) hides the TAMPERED and "verification FAILED" lines on the operator's terminal,
 * so a failed verification reads as a clean one. Every control character is shown escaped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeChain } from './support/chain.ts';
import { accessDraft } from './support/events.ts';
import { GENESIS_HASH, recordHash } from '../../src/audit/hash.ts';
import { generateSigningJwk, signingKeyFromJwk, type AuditSigningKey } from '../../src/audit/signing-key.ts';
import { auditVerifyCommand } from '../../src/audit/commands/verify.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import type { Store } from '../../src/store/index.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';

/** C0 controls other than the line feed that separates output lines, DEL, C1 controls, U+2028/U+2029. */
const TERMINAL_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

describe('audit verify output', () => {
  let db: TestDatabase;
  let store: Store;
  let key: AuditSigningKey;
  let keyFile: string;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const jwk = await generateSigningJwk();
    key = await signingKeyFromJwk(jwk);
    keyFile = join(db.dir, 'audit-signing-key.jwk');
    await writeFile(keyFile, JSON.stringify(jwk), { mode: 0o600 });
    await writeChain(store, { chain: 'main', records: 120, key, spoolRoot: db.dir });
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  const config = () => ({ dataDir: db.dir, audit: auditSchema.parse({ signingKeyFile: keyFile }) });

  it('a chain name and a checkpoint key id planted in the database with terminal escapes (conceal, erase line) are printed escaped, and the failure still shows', async () => {
    const repo = createAuditRepo(store.db, store.dialect);
    // A chain of its own that verifies (genesis link, correct hash), named to conceal what follows.
    const chain = 'zz\u001b[8m\u009b8m';
    const draft = accessDraft(1);
    const hash = recordHash({ ...draft, chain, prevHash: GENESIS_HASH });
    await repo.insertRecords([{ ...draft, chain, seq: 1, prevHash: GENESIS_HASH, hash }]);
    await repo.setHead({ chain, seq: 1, hash }, Date.now());
    // A checkpoint row on the real chain whose key id moves the cursor up and erases lines.
    const [cp] = await repo.checkpoints('main');
    await store.db.updateTable('audit_checkpoints').set({ kid: 'k\u001b[1A\u001b[2K\r\u2028' }).where('chain', '=', 'main').where('seq', '=', cp!.seq).execute();

    const r = await auditVerifyCommand(store, config());
    assert.equal(r.exitCode, 1);
    assert.doesNotMatch(r.output, TERMINAL_CONTROL, JSON.stringify(r.output));
    assert.match(r.output, /TAMPERED chain main seq 100: checkpoint/);
    assert.match(r.output, /signed by unknown key k\\u001b\[1A\\u001b\[2K\\r\\u2028/, 'the key id is shown, escaped');
    assert.match(r.output, /chain zz\\u001b\[8m\\u009b8m: 1 records/, 'the chain name is shown, escaped');
    assert.match(r.output.split('\n').at(-1)!, /^verification FAILED/);
    // The report itself keeps the stored values as they are (for --json and callers).
    assert.ok(r.report.chains.some((c) => c.chain === chain));
  });

  it('a chain name with terminal escapes in the error that lists the known chains (--chain misspelt) is escaped', async () => {
    await assert.rejects(auditVerifyCommand(store, config(), { chain: 'mian' }), (err: { code: string; detail: string }) => {
      assert.equal(err.code, 'ERR_AUDIT_QUERY_INVALID');
      assert.doesNotMatch(err.detail, TERMINAL_CONTROL, JSON.stringify(err.detail));
      assert.match(err.detail, /zz\\u001b\[8m/);
      return true;
    });
  });
});
