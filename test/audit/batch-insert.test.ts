/**
 * The append path's batch inserts (SQLite: multi-row statements of power-of-two sizes;
 * PostgreSQL: one COPY in text format) store every field exactly as
 * it was hashed: hostile strings survive byte for byte and the chain verifies, for batch
 * sizes that split into several statements. Runs on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomUUIDv7 } from 'node:crypto';
import { AuditWriter } from '../../src/audit/writer.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import type { AuditDraft } from '../../src/audit/record.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

// Quotes, backslashes, JSON look-alikes, SQL look-alikes, control and non-BMP characters, and
// what COPY's text format gives meaning to: the tab delimiter, line ends, its null marker \N,
// its end-of-data line \. and backslash escapes of its own.
// NUL is left out: PostgreSQL text cannot hold it on either path.
const HOSTILE = ['"', '\\', '\\"', '","hash":"0', '{"actor":"root"}', "'); drop table audit_records; --", '\u0001\u001f\u007f', '\u2028\u2029', 'é€😀', '$1', '?', '',
  '\t', 'a\tb', '\n', '\r', '\r\n', '\\N', 'N', '\\.', '\n\\.\n', '\\t\\n\\r\\\\', '\\x41', '\\101', '\\\t'];

function hostileDraft(i: number): AuditDraft {
  const v = HOSTILE[i % HOSTILE.length]!;
  return {
    time: 1_790_000_000_000 + i, instance: `gw${v}`, event: 'gateway.request', eventId: randomUUIDv7(), requestId: `r${v}${i}`, traceId: i % 3 ? v : null,
    actor: i % 2 ? `user${v}` : null, actorKind: 'user', action: 'gateway.request', resource: `GET /p${v}`, outcome: 'success',
    decisionId: i % 5 ? null : `d${v}`, reasons: i % 4 ? null : JSON.stringify([v]), clientAddress: v === '' ? null : v, details: JSON.stringify({ path: v, n: i }),
  };
}

for (const backend of await backends()) {
  describe(`audit batch inserts on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    for (const batch of [1, 7, 1000, 2500]) {
      it(`stores ${batch}-event batches of hostile strings byte for byte, and the chain verifies`, async () => {
        const chain = `hostile-${batch}`;
        const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, `spool-${chain}`), batchMaxEvents: batch, fsync: false });
        const drafts = Array.from({ length: batch >= 1000 ? batch : 3 * batch + 2 }, (_, i) => hostileDraft(i));
        for (const d of drafts) writer.append(d);
        await writer.close();
        const stored = await createAuditRepo(env.store.db, env.store.dialect).page(chain, 0, 10_000);
        assert.equal(stored.length, drafts.length);
        stored.forEach((r, i) => {
          const { chain: c, seq, prevHash, hash, ...fields } = r;
          assert.deepEqual(fields, drafts[i], `record ${seq}`);
          assert.equal(c, chain);
          assert.equal(seq, i + 1);
          assert.equal(prevHash, i ? stored[i - 1]!.hash : '0'.repeat(64));
          assert.match(hash, /^[0-9a-f]{64}$/);
        });
        const report = await verifyAudit(env.store, { trustedKeys: [], chain });
        assert.equal(report.ok, true, JSON.stringify(report.problems));
      });
    }
  });
}
