/**
 * Records written under older, weaker redaction rules leave through `audit export` (JSON lines,
 * syslog, OTLP) and `audit query` redacted by the rules in force now, while the stored bytes and
 * the hash chain stay as they were. Real writer, real receivers on loopback, SQLite and PostgreSQL.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AuditWriter } from '../../src/audit/writer.ts';
import { auditExportCommand } from '../../src/audit/commands/export.ts';
import { auditQueryCommand } from '../../src/audit/commands/query.ts';
import { exportAudit } from '../../src/audit/export/export.ts';
import { createOtlpSink } from '../../src/audit/export/otlp.ts';
import { createSyslogSink } from '../../src/audit/export/syslog.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { auditSchema } from '../../src/core/config/audit-schema.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';
import { accessDraft } from './support/events.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
/** What the old rules let through, one unique marker each: a leak is a substring check. */
const OLD = ['hunter2old', 'pyDictOld', 'cyrillicOld', 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'glpatOld', 'CANARY-4711'];
/** No redaction at all: how a record written by a version without today's rules looks. */
const noRules = { value: (v: unknown) => v, string: (t: string) => t, isSecretKey: () => false, logFormatter: (o: Record<string, unknown>) => o, logMethod() {} };

const collect = () => {
  const chunks: string[] = [];
  return { out: new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString('utf8')); cb(); } }), text: () => chunks.join('') };
};

for (const backend of await backends()) {
  describe(`re-redaction on export on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend, { key: true });
    let storedBefore: string;

    before(async () => {
      const writer = AuditWriter.open({ store: env.store, instance: 'gw-1', spoolDir: join(env.db.dir, 'spool'), signingKey: env.key });
      writer.append(draftFromEnvelope({
        id: '0199c3a0-0000-7000-8000-0000000000e1', time: new Date().toISOString(), instance: 'gw-1', name: 'identity.login.failed',
        payload: {
          requestId: 'req-1', reason: `upstream said password: ${OLD[0]}`, detail: `{'password': '${OLD[1]}'}`, ['p\u0430ssword']: OLD[2],
          header: `Private-Token: ${OLD[4]}`, note: `ticket ${OLD[5]}`, clientAddress: '203.0.113.7',
        },
      }, noRules as never));
      writer.append(accessDraft(2, { path: `/cb?t=${JWT.replaceAll('.', '%2E')}&state=abc` }));
      writer.append(draftFromEnvelope({
        id: '0199c3a0-0000-7000-8000-0000000000e3', time: new Date().toISOString(), instance: 'gw-1', name: 'detect.alert',
        payload: { alertId: 'al_1', rule: 'brute_force_account', severity: 'high', keyKind: 'account', key: 'alice@example.com', count: 10 },
      }, createRedactor()));
      await writer.close();
      // The access draft above was redacted by today's rules: store what an older version wrote.
      await env.store.db.updateTable('audit_records').set({ resource: `route:inbox GET /cb?t=${JWT.replaceAll('.', '%2E')}&state=abc` }).where('seq', '=', 2).execute();
      storedBefore = JSON.stringify(await env.store.db.selectFrom('audit_records').selectAll().where('seq', '<>', 2).orderBy('seq').execute());
    });

    it('a secret an older version stored (password: x, a Python dict, a Cyrillic-spelled key, a %2E JWT, a Private-Token line, a newly configured pattern) does not leave through audit export --to jsonl', async () => {
      const config = auditSchema.parse({ redact: { patterns: ['CANARY-\\d+'] } });
      const { out, text } = collect();
      const r = await auditExportCommand(env.store, config, { to: 'jsonl' }, out);
      assert.equal(r.exported, 3);
      assert.deepEqual(OLD.filter((s) => text().includes(s)), []);
      const lines = text().trim().split('\n').map((l) => JSON.parse(l) as { details: Record<string, unknown>; resource: string; reRedacted?: true });
      assert.equal(lines[0]!.reRedacted, true);
      assert.match(String(lines[0]!.details.reason), /^upstream said password: \[REDACTED\]$/);
      assert.equal(lines[1]!.resource, 'route:inbox GET /cb?t=[REDACTED]&state=abc');
      // Nothing to cut: the record goes out as stored, unmarked, and an alert keeps whom it is about.
      assert.equal(lines[2]!.reRedacted, undefined);
      assert.equal(lines[2]!.details.key, 'alice@example.com');
    });

    it('the same records leave redacted over syslog and OTLP, and through audit query', async () => {
      const udp = createSocket('udp4');
      const got: string[] = [];
      udp.on('message', (m) => got.push(m.toString('utf8')));
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
      const bodies: string[] = [];
      const server = createHttpServer((req, res) => {
        let text = '';
        req.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => { bodies.push(text); res.writeHead(200).end('{}'); });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        assert.equal(await exportAudit(env.store, {}, await createSyslogSink({ url: `udp://127.0.0.1:${udp.address().port}` })), 3);
        assert.equal(await exportAudit(env.store, {}, createOtlpSink({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs` })), 3);
        for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(got.length, 3);
        const builtIn = OLD.slice(0, 5);
        assert.deepEqual(builtIn.filter((s) => got.join('\n').includes(s)), [], 'syslog');
        assert.deepEqual(builtIn.filter((s) => bodies.join('\n').includes(s)), [], 'otlp');
        const q = collect();
        await auditQueryCommand(env.store, {}, q.out, { patterns: ['CANARY-\\d+'] });
        assert.deepEqual(OLD.filter((s) => q.text().includes(s)), [], 'audit query');
      } finally {
        udp.close();
        server.close();
      }
    });

    it('the stored records are untouched by an export: the chain still verifies and the rows are byte for byte what they were', async () => {
      const report = await verifyAudit(env.store, { trustedKeys: [env.key.publicJwk] });
      // Row 2 was edited above to stand for an older version's record: only it is reported.
      assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['modified', 2]]);
      assert.equal(JSON.stringify(await env.store.db.selectFrom('audit_records').selectAll().where('seq', '<>', 2).orderBy('seq').execute()), storedBefore);
      const raw = JSON.stringify(await env.store.db.selectFrom('audit_records').select(['details']).where('seq', '=', 1).execute());
      assert.ok(raw.includes(OLD[0]!), 'the stored record still holds what it was written with');
    });
  });
}
