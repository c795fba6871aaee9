/**
 * A temporarily blocked workload identity (`gatehouse alerts block --subject spiffe://…`, or
 * detection) must not renew its certificate. The gateway refuses a blocked subject on its routes,
 * but the CA's API is served before authentication: a blocked workload renewed over mTLS as
 * usual, and its fresh certificate kept working between services that never pass the gateway.
 * Real composed Gatehouse (CA, IdP, detection, audit) on SQLite, real TLS with client
 * certificates from its CA; blocks placed in the store as `alerts block` places them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { queryAudit } from '../../src/audit/query.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { addBlock, liftBlocks } from '../../src/detect/blocks.ts';
import type { DetectExtension } from '../../src/detect/extension.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { issueClientCertificate, startIdpGateway, TRUST_DOMAIN, type ClientTls, type IdpGateway } from '../identity/support/gateway-idp.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/reports`;
const API = '/.well-known/gatehouse/pki';

describe('a blocked workload identity at the certificate authority', () => {
  let idp: IdpGateway;
  let current: ClientTls;

  before(async () => {
    idp = await startIdpGateway();
    current = await issueClientCertificate(await idp.ca(), ID);
  });
  after(() => idp?.close());

  const block = (subject: string) => addBlock(idp.store, undefined, { kind: 'subject', value: subject, reason: 'test', durationMs: 60_000, createdBy: 'admin:test' });
  const lift = (id: string) => liftBlocks(idp.store, undefined, { id }, 'admin:test');
  const certificatesOf = async (id: string) => (await (await idp.ca()).list({ spiffeId: id })).length;

  /** POST <apiPath>/<endpoint> as a workload does, over mutual TLS with `tls` when given. */
  async function pki(endpoint: 'renew' | 'issue', body: Record<string, unknown>, tls?: ClientTls): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await idp.fetchFor(tls)(`${idp.origin}${API}/${endpoint}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  }

  it('a blocked identity renewing over mTLS with its valid certificate is refused (403 ERR_PKI_IDENTITY_BLOCKED, the CA\'s error shape, nothing about the block on the wire), no certificate is issued, the refusal is audited; after the lift it renews', async () => {
    const b = await block(ID);
    const before = await certificatesOf(ID);
    const refused = await pki('renew', { csr: (await generateKeyAndCsr(ID)).csrPem }, current);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.deepEqual(refused.body, { error: 'ERR_PKI_IDENTITY_BLOCKED', message: 'Identity temporarily blocked' });
    assert.equal(await certificatesOf(ID), before, 'nothing issued');

    let found: AuditRecord | undefined;
    for (const deadline = Date.now() + 10_000; !found && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      for await (const x of queryAudit(idp.store, { action: 'pki.certificate.refused' })) if (x.details.includes('ERR_PKI_IDENTITY_BLOCKED')) found = x;
    }
    assert.ok(found, 'the refusal is in the audit log');
    assert.equal(found.actor, ID);
    assert.equal(found.outcome, 'denied', 'found with audit query --outcome denied');
    assert.match(found.details, new RegExp(b.id), 'the record names the block');

    await lift(b.id);
    const renewed = await pki('renew', { csr: (await generateKeyAndCsr(ID)).csrPem }, current);
    assert.equal(renewed.status, 201, JSON.stringify(renewed.body));
    assert.equal(renewed.body.spiffeId, ID);
  });

  it('a bootstrap token for a blocked identity is refused (403 ERR_PKI_IDENTITY_BLOCKED) without being spent: the same token works once the block is lifted', async () => {
    const other = `spiffe://${TRUST_DOMAIN}/svc/archive`;
    const { token } = await (await idp.ca()).createBootstrapToken({ spiffeId: other });
    const b = await block(other);
    const refused = await pki('issue', { csr: (await generateKeyAndCsr(other)).csrPem, token });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'ERR_PKI_IDENTITY_BLOCKED');
    await lift(b.id);
    const issued = await pki('issue', { csr: (await generateKeyAndCsr(other)).csrPem, token });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
  });

  it('when the blocks cannot be read, renewal is refused (503 ERR_STORE_UNAVAILABLE, fail closed)', async () => {
    await sql`alter table detect_blocks rename to detect_blocks_away`.execute(idp.store.db);
    try {
      const refused = await pki('renew', { csr: (await generateKeyAndCsr(ID)).csrPem }, current);
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'ERR_STORE_UNAVAILABLE');
    } finally {
      await sql`alter table detect_blocks_away rename to detect_blocks`.execute(idp.store.db);
    }
  });

  it('a blocked client address gets nothing from the CA or the identity provider through the gateway: /renew, /issue and /oidc/token answer 403 ERR_SHIELD_BLOCKED before either runs', async () => {
    const b = await addBlock(idp.store, undefined, { kind: 'address', value: '127.0.0.1', reason: 'test', durationMs: 60_000, createdBy: 'admin:test' });
    const check = (idp.gw.gateway.extensions.find((e) => e.name === 'detect') as DetectExtension).blockCheck;
    check.add(b);
    try {
      const before = await certificatesOf(ID);
      for (const r of [await pki('renew', { csr: (await generateKeyAndCsr(ID)).csrPem }, current), await pki('issue', { csr: 'x', token: 'x' })]) {
        assert.equal(r.status, 403);
        assert.equal((r.body.error as { code?: string }).code, 'ERR_SHIELD_BLOCKED');
      }
      assert.equal(await certificatesOf(ID), before);
      const token = await idp.fetch(`${idp.origin}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&client_id=x&client_secret=y' });
      assert.equal(token.status, 403);
      assert.match(await token.text(), /ERR_SHIELD_BLOCKED/);
    } finally {
      await lift(b.id);
      check.remove(b.id);
    }
  });
});
