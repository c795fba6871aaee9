import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatehouseError } from '../../src/core/errors.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest, PolicyDecision } from '../../src/policy/types.ts';

const NOW = Date.parse('2025-06-02T10:00:00Z');

function req(over: Partial<AuthorizationRequest> & { roles?: string[]; attributes?: Record<string, unknown> } = {}): AuthorizationRequest {
  const { roles, attributes, ...rest } = over;
  return {
    policySet: 'main',
    principal: { kind: 'user', id: 'alice', roles: roles ?? [], attributes: attributes ?? {} },
    action: 'GET',
    resource: { routeId: 'inbox', upstream: 'mail' },
    context: {},
    now: NOW,
    ...rest,
  };
}

function engineWith(policies: string, options: ConstructorParameters<typeof PolicyEngine>[0] = {}): PolicyEngine {
  const e = new PolicyEngine({ clock: () => NOW, ...options });
  e.load('main', { policies });
  return e;
}

describe('policy engine: decisions', () => {
  test('denies by default when no policy applies', () => {
    const d = engineWith('permit(principal in Gatehouse::Role::"x", action, resource);').authorize(req());
    assert.equal(d.allowed, false);
    assert.equal(d.basis, 'no-permit');
  });

  test('denies an empty policy set', () => {
    const d = engineWith('').authorize(req());
    assert.equal(d.allowed, false);
    assert.equal(d.basis, 'no-permit');
  });

  test('denies with policy-set-missing when the route names an unknown set or none', () => {
    const e = engineWith('permit(principal, action, resource);');
    for (const policySet of ['nope', undefined]) {
      const d = e.authorize(req({ policySet }));
      assert.equal(d.allowed, false);
      assert.equal(d.basis, 'policy-set-missing');
    }
  });

  test('allows through a role inherited in the role hierarchy, naming the determining policy', () => {
    const e = engineWith('@id("editors") permit(principal in Gatehouse::Role::"editor", action, resource);');
    e.setDirectory({ roles: { admin: ['editor'], editor: [] } });
    const d = e.authorize(req({ roles: ['admin'] }));
    assert.equal(d.allowed, true);
    assert.deepEqual(d.reasons, ['editors']);
  });

  test('decides on principal attributes (attribute-based)', () => {
    const e = engineWith('permit(principal, action, resource) when { principal has department && principal.department == "sales" };');
    assert.equal(e.authorize(req({ attributes: { department: 'sales' } })).allowed, true);
    assert.equal(e.authorize(req({ attributes: { department: 'it' } })).allowed, false);
    assert.equal(e.authorize(req()).allowed, false);
  });

  test('a forbid wins over a permit', () => {
    const e = engineWith('permit(principal, action, resource);\n@id("no-contractors") forbid(principal in Gatehouse::Role::"contractor", action, resource);');
    const d = e.authorize(req({ roles: ['contractor'] }));
    assert.equal(d.allowed, false);
    assert.equal(d.basis, 'forbid');
    assert.deepEqual(d.reasons, ['no-contractors']);
  });

  test('denies when a forbid fails to evaluate (fail closed, unlike plain Cedar)', () => {
    // principal.blocked is missing: the forbid errors; Cedar alone would skip it and allow.
    const e = engineWith('permit(principal, action, resource);\n@id("blocked") forbid(principal, action, resource) when { principal.blocked };');
    const d = e.authorize(req());
    assert.equal(d.allowed, false);
    assert.equal(d.basis, 'forbid-error');
    assert.deepEqual(d.reasons, ['blocked']);
    assert.equal(d.errors[0]?.policyId, 'blocked');
    assert.match(e.explain(d), /fail closed/);
  });

  test('refuses a token claim that smuggles a Cedar entity reference', () => {
    const e = engineWith('permit(principal, action, resource) when { principal has manager && principal.manager == Gatehouse::User::"boss" };');
    const d = e.authorize(req({ attributes: { manager: { __entity: { type: 'Gatehouse::User', id: 'boss' } } } }));
    assert.equal(d.allowed, false);
  });

  test('refuses a claim that smuggles an extension value, and ignores floats and __proto__', () => {
    const e = engineWith('permit(principal, action, resource) when { principal has net };');
    const d = e.authorize(req({ attributes: JSON.parse('{"net":{"__extn":{"fn":"ip","arg":"10.0.0.0/8"}},"x":1.5,"__proto__":{"net":1}}') as Record<string, unknown> }));
    // `net` survives only as an empty record (its __extn key is dropped), never as an ip value.
    assert.equal(d.allowed, true);
    const strict = engineWith('permit(principal, action, resource) when { principal.net.isInRange(ip("10.0.0.0/8")) };');
    assert.equal(strict.authorize(req({ attributes: { net: { __extn: { fn: 'ip', arg: '10.1.1.1' } } } })).allowed, false);
  });

  test('client address is an ip value; a malformed one is absent, not an engine failure', () => {
    const e = engineWith('permit(principal, action, resource) when { context has clientAddress && context.clientAddress.isInRange(ip("10.0.0.0/8")) };');
    assert.equal(e.authorize(req({ context: { clientAddress: '10.2.3.4' } })).allowed, true);
    assert.equal(e.authorize(req({ context: { clientAddress: '192.0.2.1' } })).allowed, false);
    assert.equal(e.authorize(req({ context: { clientAddress: 'not-an-ip' } })).allowed, false);
  });

  test('recent MFA and amr in context', () => {
    const e = engineWith('permit(principal, action, resource) when { context has mfaAge && context.mfaAge < 300 && context.amr.contains("otp") };');
    const nowSec = NOW / 1000;
    assert.equal(e.authorize(req({ context: { amr: ['pwd', 'otp'], mfaTime: nowSec - 60 } })).allowed, true);
    assert.equal(e.authorize(req({ context: { amr: ['pwd', 'otp'], mfaTime: nowSec - 600 } })).allowed, false);
    assert.equal(e.authorize(req({ context: { amr: ['pwd'] } })).allowed, false);
  });

  test('service-to-service rule on upstream, path and method', () => {
    const e = engineWith('permit(principal == Gatehouse::Service::"api", action == Gatehouse::Action::"PUT", resource in Gatehouse::Upstream::"store") when { context.path like "/messages/*" };');
    const svc = (id: string, action: string, path: string) => e.authorize(req({ principal: { kind: 'service', id, roles: [] }, action, resource: { routeId: 'store', upstream: 'store' }, context: { path } }));
    assert.equal(svc('api', 'PUT', '/messages/1').allowed, true);
    assert.equal(svc('api', 'DELETE', '/messages/1').allowed, false);
    assert.equal(svc('api', 'PUT', '/admin').allowed, false);
    assert.equal(svc('other', 'PUT', '/messages/1').allowed, false);
    // A user with the same id as the service is a different principal.
    assert.equal(e.authorize(req({ principal: { kind: 'user', id: 'api', roles: [] }, action: 'PUT', resource: { routeId: 'store', upstream: 'store' }, context: { path: '/messages/1' } })).allowed, false);
  });

  test('named operations are actions, children of their method', () => {
    const e = engineWith('permit(principal, action == Gatehouse::Action::"send-mail", resource);');
    e.setDirectory({ operations: { inbox: [{ name: 'send-mail', method: 'POST', path: '/mail/send*' }] } });
    assert.equal(e.authorize(req({ action: 'POST', context: { path: '/mail/send/now' } })).allowed, true);
    assert.equal(e.authorize(req({ action: 'POST', context: { path: '/mail/other' } })).allowed, false);
    const byMethod = engineWith('permit(principal, action in Gatehouse::Action::"POST", resource);');
    byMethod.setDirectory({ operations: { inbox: [{ name: 'send-mail', method: 'POST', path: '/mail/send*' }] } });
    assert.equal(byMethod.authorize(req({ action: 'POST', context: { path: '/mail/send/now' } })).allowed, true);
  });

  test('every decision has a unique id and is reported to onDecision', () => {
    const seen: PolicyDecision[] = [];
    const e = engineWith('permit(principal, action, resource);', { onDecision: (d) => seen.push(d) });
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add(e.authorize(req()).id);
    assert.equal(ids.size, 50);
    assert.equal(seen.length, 50);
    assert.equal(seen.filter((d) => d.cached).length, 49);
    assert.equal(e.decision(seen[7]!.id)?.id, seen[7]!.id);
  });

  test('explain names the set, the decisive policy and its line', () => {
    const e = engineWith('// header\n\n@id("r") permit(principal, action == Gatehouse::Action::"GET", resource);');
    const text = e.explain(e.authorize(req()));
    assert.match(text, /^ALLOW/);
    assert.match(text, /policy set: main/);
    assert.match(text, /- r \(main\.cedar:3\)/);
    const denied = e.explain(e.authorize(req({ action: 'DELETE' })));
    assert.match(denied, /^DENY/);
    assert.match(denied, /default deny/);
  });
});

describe('policy engine: loading', () => {
  test('refuses a policy that does not parse, with its line, and keeps the old version serving', () => {
    const e = engineWith('permit(principal, action, resource);');
    const before = e.getSet('main')!.version;
    assert.throws(() => e.load('main', { policies: 'permit(principal, action, resource);\n\nforbid(principal, action' }), (err: unknown) => {
      assert.ok(err instanceof GatehouseError);
      assert.equal(err.code, 'ERR_POLICY_INVALID');
      assert.match(String((err.data?.problems as string[])[0]), /main\.cedar:3/);
      return true;
    });
    assert.equal(e.getSet('main')!.version, before);
    assert.equal(e.authorize(req()).allowed, true);
  });

  test('refuses a policy that fails schema validation', () => {
    const schema = 'namespace Gatehouse { entity Role; entity User in [Role] { department?: String }; entity Route; action "GET" appliesTo { principal: [User], resource: [Route] }; }';
    const e = new PolicyEngine();
    e.load('ok', { policies: 'permit(principal, action == Gatehouse::Action::"GET", resource) when { principal has department && principal.department == "x" };', schema });
    assert.throws(() => e.load('bad', { policies: 'permit(principal, action, resource) when { principal.departmnet == "x" };', schema }), { code: 'ERR_POLICY_INVALID' });
    assert.deepEqual(e.setNames(), ['ok']);
  });

  test('refuses duplicate policy ids and templates', () => {
    const e = new PolicyEngine();
    assert.throws(() => e.load('x', { policies: '@id("a") permit(principal, action, resource);\n@id("a") forbid(principal, action, resource);' }), /duplicate policy id/);
    assert.throws(() => e.load('x', { policies: 'permit(principal == ?principal, action, resource);' }), /templates/);
  });

  test('replaceAll swaps valid sets, keeps the old version of an invalid one, removes missing ones', () => {
    const e = new PolicyEngine();
    e.replaceAll({ a: { policies: 'permit(principal, action, resource);' }, b: { policies: 'permit(principal, action, resource);' }, c: { policies: '' } });
    const report = e.replaceAll({ a: { policies: 'forbid(principal, action, resource);' }, b: { policies: 'this is not cedar' } });
    assert.deepEqual(report.loaded, ['a']);
    assert.deepEqual(Object.keys(report.failed), ['b']);
    assert.deepEqual(report.removed, ['c']);
    assert.equal(e.authorize(req({ policySet: 'a' })).allowed, false);
    assert.equal(e.authorize(req({ policySet: 'b' })).allowed, true, 'b keeps serving its previous version');
    assert.equal(e.authorize(req({ policySet: 'c' })).basis, 'policy-set-missing');
  });
});

describe('policy engine: decision cache', () => {
  test('keys only on context fields the set reads: client address does not defeat caching when unused', () => {
    const e = engineWith('permit(principal in Gatehouse::Role::"r", action, resource);');
    for (let i = 0; i < 10; i++) e.authorize(req({ roles: ['r'], context: { clientAddress: `198.51.100.${i}` }, now: NOW + i * 1000 }));
    const s = e.cacheStats();
    assert.equal(s.misses, 1);
    assert.equal(s.hits, 9);
    assert.equal(s.hitRate, 0.9);
  });

  test('a set that reads the client address gets the right answer per address from the cache', () => {
    const e = engineWith('permit(principal, action, resource) when { context.clientAddress.isInRange(ip("10.0.0.0/8")) };');
    assert.deepEqual(e.getSet('main')!.references.context, new Set(['clientAddress']));
    const answers = ['10.0.0.1', '192.0.2.1', '10.0.0.1', '192.0.2.1'].map((a) => e.authorize(req({ context: { clientAddress: a } })));
    assert.deepEqual(answers.map((d) => d.allowed), [true, false, true, false]);
    assert.deepEqual(answers.map((d) => d.cached), [false, false, true, true]);
  });

  test('a time-based policy is never answered from a stale cache entry', () => {
    const e = engineWith('permit(principal, action, resource) when { context.now < 1748858400 };'); // 2025-06-02T10:00:00Z
    assert.equal(e.authorize(req({ now: NOW - 1000 })).allowed, true);
    assert.equal(e.authorize(req({ now: NOW + 1000 })).allowed, false);
  });

  test('whole-context use and attribute reads through computed entities are analysed conservatively', () => {
    const e = engineWith('permit(principal, action, resource) when { (if context has a then principal else resource).level == 1 };');
    assert.equal(e.getSet('main')!.references.context, 'all');
    assert.equal(e.getSet('main')!.references.principalAttributes, 'all');
  });

  test('a role change gives a new decision at once', () => {
    const e = engineWith('permit(principal in Gatehouse::Role::"r", action, resource);');
    assert.equal(e.authorize(req()).allowed, false);
    assert.equal(e.authorize(req({ roles: ['r'] })).allowed, true);
    assert.equal(e.authorize(req()).allowed, false);
  });

  test('a principal attribute the set reads is part of the key; others are not', () => {
    const e = engineWith('permit(principal, action, resource) when { principal has disabled && !principal.disabled };');
    assert.equal(e.authorize(req({ attributes: { disabled: false, nonce: 1 } })).allowed, true);
    assert.equal(e.authorize(req({ attributes: { disabled: false, nonce: 2 } })).cached, true);
    assert.equal(e.authorize(req({ attributes: { disabled: true, nonce: 3 } })).allowed, false);
  });

  test('role hierarchy changes, policy reloads and principal invalidation flush cached decisions', () => {
    const e = engineWith('permit(principal in Gatehouse::Role::"editor", action, resource);');
    assert.equal(e.authorize(req({ roles: ['admin'] })).allowed, false);
    e.setDirectory({ roles: { admin: ['editor'] } });
    assert.equal(e.authorize(req({ roles: ['admin'] })).allowed, true);
    e.load('main', { policies: 'forbid(principal, action, resource);' });
    assert.equal(e.authorize(req({ roles: ['admin'] })).allowed, false);
    const again = e.authorize(req({ roles: ['admin'] }));
    assert.equal(again.cached, true);
    e.invalidatePrincipal('user', 'alice');
    assert.equal(e.authorize(req({ roles: ['admin'] })).cached, false);
  });
});
