/**
 * Step-up freshness as policies see it: `context.mfaAge` / `context.authAge` must never make
 * an MFA look recent when its time is not believable.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';

const NOW_MS = 1_800_000_000_000;
const NOW = NOW_MS / 1000;

function engine(): PolicyEngine {
  const e = new PolicyEngine({ clock: () => NOW_MS });
  e.load('admin', {
    policies: '@id("recent-mfa") permit(principal, action, resource) when { context has mfaAge && context.mfaAge <= 300 };\n'
      + '@id("recent-login") permit(principal, action == Gatehouse::Action::"read", resource) when { context has authAge && context.authAge <= 60 };',
  });
  return e;
}

function req(context: AuthorizationRequest['context'], action = 'POST'): AuthorizationRequest {
  return { policySet: 'admin', principal: { kind: 'user', id: 'mallory', roles: [] }, action, resource: { routeId: 'admin' }, context };
}

describe('auth freshness', () => {
  test('denies step-up with an MFA time a day in the future (it would stay "fresh" for a day)', () => {
    const d = engine().authorize(req({ amr: ['pwd', 'otp'], mfaTime: NOW + 86_400 }));
    assert.equal(d.allowed, false);
    assert.equal(d.basis, 'no-permit');
  });

  test('denies a login time far in the future for freshness checks too', () => {
    assert.equal(engine().authorize(req({ authTime: NOW + 3600 }, 'read')).allowed, false);
  });

  test('accepts an MFA time slightly ahead (clock skew) or recent, refuses an old one', () => {
    const e = engine();
    assert.equal(e.authorize(req({ mfaTime: NOW + 30 })).allowed, true);
    assert.equal(e.authorize(req({ mfaTime: NOW - 120 })).allowed, true);
    assert.equal(e.authorize(req({ mfaTime: NOW - 301 })).allowed, false);
    assert.equal(e.authorize(req({})).allowed, false);
  });
});
