/**
 * The access record's canonical text is built by concatenation (access-event.ts) instead of
 * by canonicalDraftJson. A difference of one byte would make every access record look
 * tampered with at `audit verify`, so the two are compared here for ordinary requests and
 * for requests carrying every kind of hostile text (which must take the generic path), and
 * records written through the fast path must verify on SQLite and PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { accessRecord } from '../../src/audit/access-event.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { normalizePath } from '../../src/gateway/router/normalize-path.ts';
import { canonicalDraftJson } from '../../src/audit/hash.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { storableDraft } from '../../src/audit/storable.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import type { RequestContext } from '../../src/gateway/context.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

const redactor = createRedactor();

function ctx(over: Record<string, unknown> = {}): RequestContext {
  return {
    requestId: '019a1b2c-3d4e-7f00-8abc-0123456789ab', trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }, method: 'GET', path: '/api/messages/inbox',
    clientAddress: '127.0.0.1', stage: 'forward', bytesIn: 10, bytesOut: 2048, route: { id: 'inbox' }, identity: undefined, error: undefined,
    upstreamStatus: 200, decisionId: undefined, ...over,
  } as unknown as RequestContext;
}

const identity = { subject: 'user:alice', kind: 'user', method: 'session' };
const HOSTILE = ['a"b', 'a\\b', 'caf\u00e9', 'line\u2028sep', 'emoji \u{1F510}', 'ctl\u0001', 'lone \ud800', 'nul \u0000 byte', 'tab\tx', '\u007f'];

/** The generic path's text: what the writer computes for a draft without a prepared canonical. */
const generic = (draft: ReturnType<typeof accessRecord>['draft']): string | undefined => canonicalDraftJson(storableDraft(draft));

describe('access record built by concatenation', () => {
  it('an ordinary request: canonical text byte-identical to canonicalDraftJson, details equal to JSON.stringify of the payload', () => {
    const { draft, canonical } = accessRecord(ctx(), 200, 1.23456, 'gw-1', redactor);
    assert.ok(canonical, 'the fast path is taken for plain text');
    assert.equal(canonical, generic(draft));
    assert.equal(draft.details, JSON.stringify({
      requestId: '019a1b2c-3d4e-7f00-8abc-0123456789ab', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', method: 'GET', path: '/api/messages/inbox', status: 200,
      durationMs: 1.235, clientAddress: '127.0.0.1', stage: 'forward', bytesIn: 10, bytesOut: 2048, routeId: 'inbox', upstreamStatus: 200,
    }));
    assert.equal(storableDraft(draft), draft, 'storable as it is');
  });

  it('with identity, error, decision id, no trace, no route, empty request id and zero/negative-zero numbers: still identical', () => {
    const variants = [
      ctx({ identity, decisionId: '0199d000-0000-7000-8000-00000000000d' }),
      ctx({ error: { code: 'ERR_AUTHZ_DENIED' }, upstreamStatus: 0, identity }),
      ctx({ trace: undefined, route: undefined, requestId: '', clientAddress: '' }),
      ctx({ bytesIn: -0, bytesOut: 0, path: '' }),
    ];
    for (const [i, c] of variants.entries()) {
      for (const status of [200, 401, 403, 429, 404, 499, 502]) {
        const { draft, canonical } = accessRecord(c, status, i * 7.0005, 'gw-1', redactor);
        assert.ok(canonical, `variant ${i} takes the fast path`);
        assert.equal(canonical, generic(draft), `variant ${i}, status ${status}`);
        assert.deepEqual(JSON.parse(canonical), JSON.parse(generic(draft)!));
      }
    }
  });

  it('hostile text in the path, subject, request id, client address, route id or instance never takes the fast path with a wrong text: fallback to the generic path', () => {
    for (const bad of HOSTILE) {
      const cases: [string, RequestContext, string][] = [
        ['path', ctx({ path: `/x/${bad}` }), 'gw-1'],
        ['subject', ctx({ identity: { ...identity, subject: bad } }), 'gw-1'],
        ['requestId', ctx({ requestId: bad }), 'gw-1'],
        ['clientAddress', ctx({ clientAddress: bad }), 'gw-1'],
        ['routeId', ctx({ route: { id: bad } }), 'gw-1'],
        ['errorCode', ctx({ error: { code: bad } }), 'gw-1'],
        ['instance', ctx(), bad],
      ];
      for (const [field, c, instance] of cases) {
        const { draft, canonical } = accessRecord(c, 200, 1, instance, redactor);
        assert.equal(canonical, undefined, `${field} ${JSON.stringify(bad)} must not be concatenated`);
        // The draft itself is what the generic path serializes: its details are exact JSON.
        assert.doesNotThrow(() => JSON.parse(draft.details));
      }
    }
  });

  it('a duration that is not a finite number is written as JSON writes it (null), through the generic path', () => {
    const { draft, canonical } = accessRecord(ctx(), 200, Number.NaN, 'gw-1', redactor);
    assert.equal(canonical, undefined);
    assert.equal(JSON.parse(draft.details).durationMs, null);
  });

  it('a head Node\'s parser refused (no method, no path, no route): identical on both paths, with no resource', () => {
    const refused = ctx({ method: '', path: '', route: undefined, stage: 'parse', upstreamStatus: 0, bytesOut: 0, error: new GatehouseError('ERR_REQUEST_HEADERS_TOO_LARGE') });
    const { draft, canonical } = accessRecord(refused, 431, 0.1, 'gw-1', redactor);
    assert.ok(canonical);
    assert.equal(canonical, generic(draft));
    assert.equal(draft.resource, null);
    assert.equal(draft.outcome, 'failure');
    assert.deepEqual(JSON.parse(draft.details), {
      requestId: '019a1b2c-3d4e-7f00-8abc-0123456789ab', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', method: '', path: '', status: 431, durationMs: 0.1,
      clientAddress: '127.0.0.1', stage: 'parse', bytesIn: 10, bytesOut: 0, errorCode: 'ERR_REQUEST_HEADERS_TOO_LARGE',
    });
  });

  it('a refused request target (path traversal, path parameter, overlong UTF-8): its reason and offset in the details on both paths, never the target', () => {
    for (const [target, reason] of [['/app/%2e%2e/%2e%2e/etc/passwd?token=s3cret', 'above-root'], ['/app/..;/admin', 'semicolon'], ['/app/%c0%ae%c0%ae/x', 'invalid-utf8']] as const) {
      let error: unknown;
      try { normalizePath(target); } catch (err) { error = err; }
      assert.ok(error instanceof GatehouseError, target);
      const { draft, canonical } = accessRecord(ctx({ error, path: '', route: undefined, stage: 'route', upstreamStatus: 0 }), 400, 0.2, 'gw-1', redactor);
      assert.ok(canonical, `${target}: the fast path is taken`);
      assert.equal(canonical, generic(draft));
      const details = JSON.parse(draft.details) as Record<string, unknown>;
      assert.equal(details.errorCode, 'ERR_REQUEST_PATH_INVALID');
      assert.equal(details.pathRefusal, reason);
      assert.equal(details.pathOffset, error.data?.offset);
      assert.equal(typeof details.pathOffset, 'number');
      assert.ok(!canonical.includes('passwd') && !canonical.includes('s3cret') && !canonical.includes('admin'), canonical);
    }
  });

  it('a reason that is not one of the fixed names (client text planted in the error data) is not recorded, nor its offset', () => {
    for (const data of [{ reason: '/etc/passwd', offset: 3 }, { reason: 'above-root', offset: '3' }, { reason: 'above-root' }, { reason: '__proto__', offset: 1 }]) {
      const error = new GatehouseError('ERR_REQUEST_PATH_INVALID', { data });
      const { draft, canonical } = accessRecord(ctx({ error }), 400, 1, 'gw-1', redactor);
      assert.equal(canonical, generic(draft));
      const details = JSON.parse(draft.details) as Record<string, unknown>;
      assert.equal('pathRefusal' in details || 'pathOffset' in details, false, JSON.stringify(data));
    }
    // Another error's data with the same names is not a path refusal.
    const other = accessRecord(ctx({ error: new GatehouseError('ERR_REQUEST_MALFORMED', { data: { reason: 'above-root', offset: 1 } }) }), 400, 1, 'gw-1', redactor);
    assert.equal('pathRefusal' in JSON.parse(other.draft.details), false);
  });

  it('a secret in the path is redacted before either text is built', () => {
    const { draft, canonical } = accessRecord(ctx({ path: '/cb/token=abc123secret' }), 200, 1, 'gw-1', redactor);
    assert.ok(canonical);
    assert.ok(!canonical.includes('abc123secret') && !draft.details.includes('abc123secret') && !draft.resource!.includes('abc123secret'));
  });
});

for (const backend of await backends()) {
  describe(`access records written through the fast path on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    it('plain and hostile access records (fast and generic path mixed) are stored as drafted and the chain verifies', async () => {
      const chain = 'access-fast';
      const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, 'spool-access'), fsync: false });
      const records = [
        accessRecord(ctx(), 200, 1.5, 'gw-1', redactor),
        accessRecord(ctx({ identity, decisionId: 'd-1' }), 403, 2.25, 'gw-1', redactor),
        ...HOSTILE.map((bad, i) => accessRecord(ctx({ path: `/h/${bad}`, identity: { ...identity, subject: bad } }), 200, i, 'gw-1', redactor)),
        accessRecord(ctx({ trace: undefined, route: undefined }), 404, 0.001, 'gw-1', redactor),
      ];
      assert.ok(records.filter((r) => r.canonical).length >= 3 && records.some((r) => !r.canonical), 'both paths are exercised');
      for (const r of records) writer.appendAccess(r);
      await writer.flush();
      await writer.close();
      const stored = await createAuditRepo(env.store.db, env.store.dialect).page(chain, 0, 100);
      assert.equal(stored.length, records.length);
      for (const [i, r] of records.entries()) {
        const expected = storableDraft(r.draft);
        assert.equal(stored[i]!.details, expected.details, `record ${i} details`);
        assert.equal(stored[i]!.resource, expected.resource, `record ${i} resource`);
        assert.equal(stored[i]!.eventId, expected.eventId);
      }
      const report = await verifyAudit(env.store, { trustedKeys: [], chain });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.records, records.length);
    });
  });
}
