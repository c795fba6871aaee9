/**
 * "What did usr_… do?" — `audit query --actor usr_…` must find the user's policy decisions as it
 * finds their requests and sign-ins. The decision's actor was the Cedar entity
 * (`Gatehouse::User::"usr_…"`), so the query missed every decision. The payload below is a
 * policy.decision event as a running gateway emitted it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor } from '../../src/audit/redact.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';

const redactor = createRedactor();
const decision = (extra: Record<string, unknown>) => ({
  id: '01a20572-149d-79e1-be49-8744e5aca37e', time: '2026-11-22T22:48:12.189Z', instance: 'gh1', name: 'policy.decision',
  payload: {
    decisionId: '64fd6645-20fa-4e7c-bad4-3a95ebb57062', allowed: false, basis: 'default', reasons: [], errors: [],
    principal: 'Gatehouse::User::"usr_VnMFPmE01DVKxDH4"', action: 'Gatehouse::Action::"GET"', resource: 'Gatehouse::Route::"orders"',
    cached: false, requestId: '01a20572-1443-74e7-93e7-5f4123e606a7', routeId: 'orders', policySet: 'orders', ...extra,
  },
});

describe('policy decision records name the principal as every other record does', () => {
  it('a denied decision is found under the user id (from the replay input)', () => {
    const d = draftFromEnvelope(decision({ input: { principal: { kind: 'user', id: 'usr_VnMFPmE01DVKxDH4', roles: ['sales'], attributes: {} }, action: 'GET' } }), redactor);
    assert.equal(d.actor, 'usr_VnMFPmE01DVKxDH4');
    assert.equal(d.actorKind, 'user');
    assert.equal(d.outcome, 'denied');
    assert.equal(JSON.parse(d.details).principal, 'Gatehouse::User::"usr_VnMFPmE01DVKxDH4"', 'the Cedar entity stays in details');
  });

  it('without the replay input, the id is read out of the Cedar entity', () => {
    const d = draftFromEnvelope(decision({}), redactor);
    assert.equal(d.actor, 'usr_VnMFPmE01DVKxDH4');
    assert.equal(d.actorKind, 'user');
  });

  it('an external principal id with an escaped quote is kept whole rather than cut at the quote', () => {
    const d = draftFromEnvelope(decision({ principal: 'Gatehouse::User::"https://idp.example#a\\"b"' }), redactor);
    assert.equal(d.actor, 'Gatehouse::User::"https://idp.example#a\\"b"');
    assert.equal(d.actorKind, 'principal');
  });
});
