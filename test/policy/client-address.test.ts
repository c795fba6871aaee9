/**
 * `context.clientAddress` for every spelling a socket or a canonicalizing proxy chain can
 * produce: never a failed decision, and an IPv4 client in an IPv4 range however it is written.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';

function engine(): PolicyEngine {
  const e = new PolicyEngine();
  e.load('s', {
    policies: '@id("all") permit(principal, action, resource);\n'
      + '@id("no-internal") forbid(principal, action, resource) when { context has clientAddress && context.clientAddress.isInRange(ip("10.0.0.0/8")) };',
  });
  return e;
}

function req(clientAddress: string): AuthorizationRequest {
  return { policySet: 's', principal: { kind: 'user', id: 'a', roles: [] }, action: 'GET', resource: { routeId: 'r' }, context: { clientAddress } };
}

describe('client address in policy context', () => {
  test('a link-local peer with a zone id is decided, not failed with ERR_POLICY_UNAVAILABLE', () => {
    const d = engine().authorize(req('fe80::1%eth0'));
    assert.equal(d.allowed, true);
  });

  test('denies an IPv4 client in a forbidden range when written IPv4-mapped (dotted or hex)', () => {
    const e = engine();
    for (const a of ['10.1.2.3', '::ffff:10.1.2.3', '::FFFF:10.1.2.3', '0:0:0:0:0:ffff:10.1.2.3', '::ffff:a01:203']) {
      const d = e.authorize(req(a));
      assert.equal(d.allowed, false, a);
      assert.deepEqual(d.reasons, ['no-internal'], a);
    }
  });

  test('other addresses are allowed; a malformed one is simply absent', () => {
    const e = engine();
    for (const a of ['192.0.2.1', '2001:db8::1', '::ffff:192.0.2.1', 'not-an-address', '']) assert.equal(e.authorize(req(a)).allowed, true, a);
  });
});
