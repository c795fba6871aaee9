/**
 * A request without a Host field. Node's HTTP server answered an HTTP/1.1 one itself
 * (`requireHostHeader`) with a bare 400: no request id, no access line, no audit record — a
 * probe that left no trace in the tamper-evident log. The accept stage refuses it instead
 * (400 ERR_REQUEST_HEADER_INVALID), recorded like every other early exit, never forwarded.
 * Real TLS client sending raw bytes, real gateway composed with the audit log, real upstream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { TestGateway } from '../support/gateway.ts';
import { startAuditedGateway, type AuditedGateway } from '../support/audited-gateway.ts';
import { rawTlsExchange, responsesOf } from '../support/raw-tls.ts';

describe('requests without a Host field', () => {
  let t: AuditedGateway;
  let gw: TestGateway;
  let port: number;
  const heads: string[] = [];

  before(async () => {
    t = await startAuditedGateway();
    ({ gw, port } = t);
    t.app.server.on('request', (req: IncomingMessage) => heads.push(req.url!));
  });
  after(async () => { await t?.close(); });
  const recordsOf = (requestId: string) => t.recordsOf(requestId);

  for (const version of ['1.1', '1.0']) {
    it(`refuses an HTTP/${version} request with no Host field with 400 and a request id, recorded at stage accept and never forwarded`, async () => {
      const before = heads.length;
      const { raw } = await rawTlsExchange(port, `GET /app/no-host HTTP/${version}\r\nAccept: application/json\r\n\r\n`);
      const { responses } = responsesOf(raw);
      assert.deepEqual(responses.map((r) => r.status), [400], raw);
      const res = responses[0]!;
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'ERR_REQUEST_HEADER_INVALID');
      const requestId = res.headers['x-request-id'];
      assert.ok(requestId, `the answer carries a request id: ${raw}`);
      const records = await recordsOf(requestId);
      assert.equal(records.length, 1, JSON.stringify(records));
      const d = records[0]!.details as Record<string, unknown>;
      assert.deepEqual([d.status, d.errorCode, d.stage], [400, 'ERR_REQUEST_HEADER_INVALID', 'accept']);
      const lines = gw.logs.lines.filter((l) => l.type === 'access' && l.requestId === requestId);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(heads.slice(before), [], 'nothing reached the upstream');
    });
  }
});
