/**
 * A recorded decision replays to the same answer when the route's operations, not the
 * policies, read the request path.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';

function engine(): PolicyEngine {
  const e = new PolicyEngine();
  e.setDirectory({ operations: { docs: [{ name: 'export', method: 'GET', path: '/docs/export' }] } });
  e.load('docs', {
    policies: '@id("read") permit(principal, action in Gatehouse::Action::"read", resource);\n'
      + '@id("no-export") forbid(principal, action == Gatehouse::Action::"export", resource);',
  });
  return e;
}

describe('replay of operation decisions', () => {
  test('a denied export replays as denied by the same forbid, not as an allowed plain GET', () => {
    const e = engine();
    const request: AuthorizationRequest = { policySet: 'docs', principal: { kind: 'user', id: 'alice', roles: [] }, action: 'GET', resource: { routeId: 'docs' }, context: { path: '/docs/export', clientAddress: '192.0.2.1' } };
    const d = e.authorize(request);
    assert.equal(d.allowed, false);
    const input = e.replayInput(d, request);
    assert.equal(input.context.path, '/docs/export');
    assert.equal(input.context.clientAddress, undefined, 'still only what decides');
    assert.deepEqual(input.recorded.context, ['path']);
    const replayed = engine().authorize({ policySet: 'docs', principal: input.principal, action: input.action, resource: input.resource, context: input.context as AuthorizationRequest['context'], now: input.now });
    assert.equal(replayed.allowed, false);
    assert.deepEqual(replayed.reasons, ['no-export']);
    assert.equal(replayed.action, d.action);
  });

  test('routes without operations record no path the set does not read', () => {
    const e = engine();
    const request: AuthorizationRequest = { policySet: 'docs', principal: { kind: 'user', id: 'alice', roles: [] }, action: 'GET', resource: { routeId: 'other' }, context: { path: '/other/x' } };
    const input = e.replayInput(e.authorize(request), request);
    assert.deepEqual(input.context, {});
  });
});
