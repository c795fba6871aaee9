/**
 * "Was it allowed?" — `audit query --outcome denied` must list a request refused for want of a
 * fresh second factor and an approval a second person refused. Both were recorded as
 * `success` (only names ending in .blocked/.locked/.throttled counted as denials).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUIDv7 } from 'node:crypto';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';

const draft = (name: string, payload: Record<string, unknown>) => draftFromEnvelope({ id: randomUUIDv7(), time: new Date().toISOString(), instance: 'i1', name, payload }, createRedactor());

describe('audit outcomes of step-up and approval refusals', () => {
  it('authn.step_up.required is recorded as denied', () => {
    const d = draft('authn.step_up.required', { requestId: 'r1', routeId: 'admin', subject: 'usr_a', credential: 'jwt', reason: 'no_mfa', maxAgeSeconds: 300, response: 'challenge', clientAddress: '203.0.113.1' });
    assert.equal(d.outcome, 'denied');
  });

  it('approval.denied is recorded as denied, approval.approved as success', () => {
    const base = { approvalId: 'apv_x', routeId: 'payments', requester: 'usr_a', method: 'POST', host: 'gw', path: '/p', query: '', bodySha256: 'ab', approver: 'usr_b', requestId: 'r2' };
    assert.equal(draft('approval.denied', base).outcome, 'denied');
    assert.equal(draft('approval.approved', base).outcome, 'success');
  });
});
