/**
 * A named operation must be recognised on every spelling of its path that upstream routers
 * treat as the same route, or a forbid on the operation is walked around.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';

function engine(): PolicyEngine {
  const e = new PolicyEngine();
  e.setDirectory({
    operations: {
      docs: [
        { name: 'export', method: 'GET', path: '/docs/export' },
        { name: 'admin', method: 'POST', path: '/docs/admin/*' },
      ],
    },
  });
  e.load('docs', {
    policies: '@id("read") permit(principal, action in Gatehouse::Action::"read", resource);\n'
      + '@id("write") permit(principal, action in Gatehouse::Action::"write", resource);\n'
      + '@id("no-export") forbid(principal, action == Gatehouse::Action::"export", resource);\n'
      + '@id("no-admin") forbid(principal, action == Gatehouse::Action::"admin", resource);',
  });
  return e;
}

function req(method: string, path: string): AuthorizationRequest {
  return { policySet: 'docs', principal: { kind: 'user', id: 'mallory', roles: [] }, action: method, resource: { routeId: 'docs' }, context: { path } };
}

describe('operation paths', () => {
  test('denies a forbidden exact operation reached with a trailing slash or other letter case', () => {
    const e = engine();
    for (const path of ['/docs/export', '/docs/export/', '/docs/EXPORT', '/Docs/Export/']) {
      const d = e.authorize(req('GET', path));
      assert.equal(d.allowed, false, path);
      assert.deepEqual(d.reasons, ['no-export'], path);
    }
  });

  test('denies a forbidden prefix operation reached with other letter case', () => {
    const e = engine();
    for (const path of ['/docs/admin/users', '/docs/ADMIN/users', '/DOCS/Admin/x']) assert.equal(e.authorize(req('POST', path)).allowed, false, path);
  });

  test('other paths are not the operation', () => {
    const e = engine();
    for (const path of ['/docs/exports', '/docs/export/x', '/docs/a']) assert.equal(e.authorize(req('GET', path)).allowed, true, path);
    assert.equal(e.authorize(req('POST', '/docs/administrator')).allowed, true);
  });

  test('a route id named like an Object.prototype key is just a route without operations', () => {
    const e = engine();
    for (const routeId of ['constructor', '__proto__', 'toString']) {
      const d = e.authorize({ ...req('GET', '/x'), resource: { routeId } });
      assert.equal(d.action, 'Gatehouse::Action::"GET"', routeId);
    }
  });
});
