/**
 * The digest of a credential Gatehouse never issued (`refusedCredential`) in the audit log. The
 * `gateway.request` bus event carried it but the request's audit record (built apart, in the
 * access sink) did not, and the generic mapping replaced it by `[REDACTED]` in every other
 * record (its key names a credential): an operator could not answer "was this credential tried
 * from many addresses" from `gatehouse audit query`. Now the access record carries it, in the
 * fast canonical path too, and the redactor leaves it (16 hex digits of a SHA-256, no secret).
 * Records without it are byte-for-byte what they were, and a chain mixing records of the old
 * shape with the new one verifies, on SQLite and PostgreSQL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { accessRecord } from '../../src/audit/access-event.ts';
import { canonicalDraftJson } from '../../src/audit/hash.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { queryAudit, viewRecord } from '../../src/audit/query.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { storableDraft } from '../../src/audit/storable.ts';
import { verifyAudit } from '../../src/audit/verify.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import type { AuditExtension } from '../../src/audit/extension.ts';
import { credentialDigest } from '../../src/authn/refused-credential.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import type { RequestContext } from '../../src/gateway/context.ts';
import { createAuditRepo } from '../../src/store/repos/audit-repo.ts';
import { startAuditedGateway, type AuditedGateway } from '../support/audited-gateway.ts';
import { backends } from './support/backends.ts';
import { useAuditBackend } from './support/use-audit-backend.ts';

const redactor = createRedactor();
const TOKEN = 'Bearer ghs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

function ctx(over: Record<string, unknown> = {}): RequestContext {
  return {
    requestId: '019a1b2c-3d4e-7f00-8abc-0123456789ab', trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }, method: 'GET', path: '/api/x',
    clientAddress: '198.51.100.7', stage: 'authenticate', bytesIn: 0, bytesOut: 80, route: { id: 'api' }, identity: undefined, error: undefined,
    upstreamStatus: undefined, decisionId: undefined, req: { headers: { authorization: TOKEN } }, ...over,
  } as unknown as RequestContext;
}
const refusedCtx = () => ctx({ error: new GatehouseError('ERR_AUTHN_API_TOKEN_INVALID') });

describe('refusedCredential in the access record', () => {
  it('an unknown API token refused: the record has the digest of the Authorization header (never the token), and the fast canonical text equals canonicalDraftJson', () => {
    const { draft, canonical } = accessRecord(refusedCtx(), 401, 1, 'gw-1', redactor);
    const details = JSON.parse(draft.details) as Record<string, unknown>;
    assert.equal(details.refusedCredential, credentialDigest(TOKEN));
    assert.ok(!draft.details.includes('ghs_'), 'the token is not recorded');
    assert.ok(canonical, 'plain text: the fast path');
    assert.equal(canonical, canonicalDraftJson(storableDraft(draft)));
  });

  it('records of requests without it (allowed; refused for another reason) are byte-for-byte what they were: no key added', () => {
    const allowed = accessRecord(ctx({ stage: 'forward', upstreamStatus: 200 }), 200, 1, 'gw-1', redactor);
    assert.equal(allowed.draft.details, '{"requestId":"019a1b2c-3d4e-7f00-8abc-0123456789ab","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","method":"GET","path":"/api/x","status":200,"durationMs":1,"clientAddress":"198.51.100.7","stage":"forward","bytesIn":0,"bytesOut":80,"routeId":"api","upstreamStatus":200}');
    const denied = accessRecord(ctx({ error: new GatehouseError('ERR_AUTHN_TOKEN_EXPIRED') }), 401, 1, 'gw-1', redactor);
    assert.equal(denied.draft.details, '{"requestId":"019a1b2c-3d4e-7f00-8abc-0123456789ab","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","method":"GET","path":"/api/x","status":401,"durationMs":1,"clientAddress":"198.51.100.7","stage":"authenticate","bytesIn":0,"bytesOut":80,"routeId":"api","errorCode":"ERR_AUTHN_TOKEN_EXPIRED"}');
  });

  it('the other events that carry it (identity.client.auth_failed, pki.certificate.refused) keep it through the redactor instead of [REDACTED]', () => {
    for (const name of ['identity.client.auth_failed', 'pki.certificate.refused']) {
      const draft = draftFromEnvelope({ id: 'e1', time: new Date().toISOString(), instance: 'gw-1', name, payload: { clientAddress: '198.51.100.7', refusedCredential: 'f00dfeedc0ffee42', clientSecret: 's3cret' } }, redactor);
      const details = JSON.parse(draft.details) as Record<string, unknown>;
      assert.equal(details.refusedCredential, 'f00dfeedc0ffee42', name);
      assert.notEqual(details.clientSecret, 's3cret', 'a secret next to it is still redacted');
    }
  });
});

for (const backend of await backends()) {
  describe(`a chain of old-shape and new access records on ${backend.name}`, { skip: backend.skip }, () => {
    const env = useAuditBackend(backend);

    it('records written as before the change (a refused token without the digest) followed by new ones verify', async () => {
      const chain = 'refused-credential';
      const writer = AuditWriter.open({ store: env.store, chain, instance: 't', spoolDir: join(env.db.dir, 'spool-refused'), fsync: false });
      // What the sink wrote before: the same refusal without the key (the canonical text rebuilt by the writer).
      const old = accessRecord(refusedCtx(), 401, 1, 'gw-1', redactor);
      const { refusedCredential: _, ...oldDetails } = JSON.parse(old.draft.details) as Record<string, unknown>;
      writer.appendAccess({ draft: { ...old.draft, details: JSON.stringify(oldDetails) }, canonical: undefined });
      writer.appendAccess(accessRecord(ctx({ stage: 'forward', upstreamStatus: 200 }), 200, 1, 'gw-1', redactor));
      writer.appendAccess(accessRecord(refusedCtx(), 401, 2, 'gw-1', redactor));
      await writer.flush();
      await writer.close();
      const stored = await createAuditRepo(env.store.db, env.store.dialect).page(chain, 0, 10);
      assert.equal(stored.length, 3);
      assert.ok(!stored[0]!.details.includes('refusedCredential') && stored[2]!.details.includes(credentialDigest(TOKEN)));
      const report = await verifyAudit(env.store, { trustedKeys: [], chain });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    });
  });
}

describe('one credential tried from many addresses, found with audit query', () => {
  let g: AuditedGateway;

  before(async () => {
    g = await startAuditedGateway({
      trustedProxies: ['127.0.0.1/32'],
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['api_token', 'session'] } }],
    });
  });
  after(async () => { await g?.close(); });

  it('a leaked API token presented from 3 addresses and a forged session cookie: the records of the refusals carry digests that group them by credential, and none carries the secrets', async () => {
    const token = `Bearer ghs_${randomBytes(32).toString('base64url')}`;
    const cookie = `__Host-gatehouse-session=${randomBytes(32).toString('base64url')}`;
    for (const from of ['198.51.100.1', '198.51.100.2', '2001:db8::7']) {
      assert.equal((await g.gw.fetch('/app/x', { headers: { 'x-forwarded-for': from, authorization: token } })).status, 401);
    }
    assert.equal((await g.gw.fetch('/app/x', { headers: { 'x-forwarded-for': '203.0.113.9', cookie } })).status, 401);
    await (g.gw.gateway.extensions.find((e) => e.name === 'audit') as AuditExtension).writer!.flush();

    const byCredential = new Map<string, Set<string>>();
    for await (const r of queryAudit(g.store, { action: 'gateway.request' })) {
      assert.ok(!r.details.includes('ghs_') && !r.details.includes(cookie.split('=')[1]!), 'no secret in any record');
      const v = viewRecord(r);
      const digest = (v.details as Record<string, unknown>).refusedCredential;
      if (typeof digest === 'string') byCredential.set(digest, (byCredential.get(digest) ?? new Set()).add(v.clientAddress!));
    }
    assert.deepEqual([...byCredential.get(credentialDigest(token)) ?? []].sort(), ['198.51.100.1', '198.51.100.2', '2001:db8::7']);
    assert.deepEqual([...byCredential.get(credentialDigest(cookie)) ?? []], ['203.0.113.9']);
  });
});
