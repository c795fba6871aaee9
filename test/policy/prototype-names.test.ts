/**
 * Role names that are also Object.prototype keys are ordinary names: they neither crash the
 * engine nor grant anything a policy does not name.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';

function req(roles: string[]): AuthorizationRequest {
  return { policySet: 'app', principal: { kind: 'user', id: 'mallory', roles }, action: 'GET', resource: { routeId: 'app' }, context: {} };
}

describe('prototype keys as names', () => {
  test('a role inheriting from a role named constructor or toString loads and inherits', () => {
    const e = new PolicyEngine();
    e.setDirectory({ roles: { admin: ['constructor', 'toString'], editor: ['__proto__'] } });
    e.load('app', { policies: '@id("ctor") permit(principal in Gatehouse::Role::"constructor", action, resource);' });
    assert.equal(e.authorize(req(['admin'])).allowed, true);
    assert.equal(e.authorize(req(['editor'])).allowed, false);
  });

  test('denies a principal claiming roles named constructor, __proto__ or hasOwnProperty', () => {
    const e = new PolicyEngine();
    e.setDirectory({ roles: { admin: ['editor'] } });
    e.load('app', { policies: '@id("admins") permit(principal in Gatehouse::Role::"admin", action, resource);' });
    const d = e.authorize(req(['constructor', '__proto__', 'hasOwnProperty']));
    assert.equal(d.allowed, false);
    assert.equal(d.basis, 'no-permit');
  });
});
