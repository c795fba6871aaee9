/**
 * Path probes refused by normalization (docs/path-normalization.md) are visible in the audit
 * log as what they were: the record names the reason (one of the fixed names) and the offset,
 * never the target, whose query may carry a token. Real TLS client, real gateway composed with
 * the audit log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queryAudit, viewRecord, type AuditRecordView } from '../../src/audit/query.ts';
import type { AuditExtension } from '../../src/audit/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';

describe('audit records of refused request targets', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let store: Store;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({ audit: { fsync: false }, upstreams: { app: { url: app.url } }, routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }] }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
  });
  after(async () => { await store?.close(); await gw?.close(); await app?.close(); });

  async function recordsOf(requestId: string): Promise<AuditRecordView[]> {
    await (gw.gateway.extensions.find((e) => e.name === 'audit') as AuditExtension).writer!.flush();
    const out: AuditRecordView[] = [];
    for await (const r of queryAudit(store, { requestId })) out.push(viewRecord(r));
    return out;
  }

  for (const [attack, target, reason, offset] of [
    ['encoded traversal above the root', '/app/%2e%2e/%2e%2e/etc/passwd?access_token=s3cret-probe', 'above-root', 18],
    ['the Tomcat ..;/ path parameter bypass', '/app/..;/admin?access_token=s3cret-probe', 'semicolon', 7],
    ['an overlong UTF-8 dot (%c0%ae)', '/app/%c0%ae%c0%ae/x?access_token=s3cret-probe', 'invalid-utf8', 5],
    ['an encoded slash', '/app/a%2fb?access_token=s3cret-probe', 'encoded-separator', 6],
  ] as const) {
    it(`refuses ${attack} with 400 ERR_REQUEST_PATH_INVALID; its record says ${reason} at offset ${offset}, never the target`, async () => {
      const reached = app.received.length;
      const response = await rawTlsRequest(gw.gateway.addresses().https.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(response), 400, response);
      const requestId = /\r\nx-request-id: ([^\r]+)/i.exec(response)![1]!;
      const records = await recordsOf(requestId);
      assert.equal(records.length, 1);
      const r = records[0]!;
      assert.equal(r.outcome, 'failure');
      assert.deepEqual((({ errorCode, pathRefusal, pathOffset, stage }) => ({ errorCode, pathRefusal, pathOffset, stage }))(r.details as Record<string, unknown>),
        { errorCode: 'ERR_REQUEST_PATH_INVALID', pathRefusal: reason, pathOffset: offset, stage: 'route' });
      assert.doesNotMatch(JSON.stringify(r), /s3cret-probe|passwd|admin|%2f|%c0/i);
      assert.equal(app.received.length, reached);
    });
  }
});
