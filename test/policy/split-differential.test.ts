/**
 * Differential test of policy splitting: random policy sets × random requests, decided by an
 * engine that evaluates only the policies whose scope can match (split) and by one that
 * evaluates the whole set every time. They must agree on every decision: allowed, basis,
 * determining policies and evaluation errors, each list in file order.
 *
 * The generator covers every scope form (==, in, is, is … in, lists of actions, entity types
 * no request can have), forbids, conditions that raise errors (missing attributes, missing
 * upstream), named operations, route groups, upstreams and a role hierarchy.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { AuthorizationRequest, PolicyDecision, PolicyDirectory } from '../../src/policy/types.ts';

const NOW = Date.parse('2025-06-02T10:00:00Z');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const ROUTES = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
const GROUPS = ['g0', 'g1', 'g2'];
const UPSTREAMS = ['u0', 'u1', 'u2'];
const METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE'];
const ROLES = ['a', 'b', 'c', 'd'];
const A = (id: string) => `Gatehouse::Action::"${id}"`;

function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;

  const principalScope = () => pick([
    'principal',
    `principal in Gatehouse::Role::"${pick(ROLES)}"`,
    'principal == Gatehouse::User::"u1"',
    'principal == Gatehouse::Service::"s1"',
    'principal is Gatehouse::Service',
    `principal is Gatehouse::User in Gatehouse::Role::"${pick(ROLES)}"`,
  ]);
  const actionScope = () => pick([
    'action',
    `action == ${A(pick(METHODS))}`,
    `action in [${A(pick(METHODS))}, ${A(pick(METHODS))}]`,
    `action in ${A('read')}`,
    `action in ${A('write')}`,
    `action == ${A('archive')}`,
    `action in [${A('export')}, ${A('DELETE')}]`,
    `action in ${A('POST')}`,
    // Action in another namespace: no request has it.
    'action == Action::"GET"',
  ]);
  const resourceScope = () => pick([
    'resource',
    `resource == Gatehouse::Route::"${pick(ROUTES)}"`,
    `resource in Gatehouse::Route::"${pick(ROUTES)}"`,
    `resource in Gatehouse::RouteGroup::"${pick(GROUPS)}"`,
    `resource in Gatehouse::Upstream::"${pick(UPSTREAMS)}"`,
    'resource is Gatehouse::Route',
    `resource is Gatehouse::Route in Gatehouse::RouteGroup::"${pick(GROUPS)}"`,
    `resource is Gatehouse::Route in Gatehouse::Upstream::"${pick(UPSTREAMS)}"`,
    `resource == Gatehouse::RouteGroup::"${pick(GROUPS)}"`,
    `resource in Gatehouse::Role::"${pick(ROLES)}"`,
    'resource is Gatehouse::User',
  ]);
  const condition = () => pick([
    '',
    ` when { principal has level && principal.level > ${Math.floor(r() * 4)} }`,
    // Errors when the attribute is missing: the fail-closed rule for forbids must agree.
    ` when { principal.level > ${Math.floor(r() * 4)} }`,
    ` when { context.path like "/${pick(ROUTES)}/*" }`,
    ' unless { context has mfaAge }',
    // Errors when the route has no upstream.
    ` when { resource.upstream == "${pick(UPSTREAMS)}" }`,
    ` when { context.method == "${pick(METHODS)}" }`,
    ` when { resource in Gatehouse::RouteGroup::"${pick(GROUPS)}" }`,
  ]);

  function policySet(size: number): string {
    const out: string[] = [];
    for (let i = 0; i < size; i++) {
      const effect = chance(0.3) ? 'forbid' : 'permit';
      out.push(`@id("p${i}") ${effect}(${principalScope()}, ${actionScope()}, ${resourceScope()})${condition()};`);
    }
    return out.join('\n');
  }

  function directory(): PolicyDirectory {
    const routeGroups: Record<string, string[]> = {};
    for (const g of GROUPS) routeGroups[g] = ROUTES.filter(() => chance(0.4));
    return {
      roles: { a: ['b'], b: [], c: ['d'], d: [] },
      routeGroups,
      operations: {
        r1: [{ name: 'archive', method: 'POST', path: '/r1/archive*' }],
        r2: [{ name: 'export', method: 'GET', path: '/r2/export' }],
      },
    };
  }

  function request(): AuthorizationRequest {
    const route = pick(ROUTES);
    const suffix = pick(['', 'archive/x', 'export', 'items/1']);
    const attributes: Record<string, unknown> = chance(0.6) ? { level: Math.floor(r() * 5) } : {};
    return {
      policySet: 'main',
      principal: {
        kind: chance(0.3) ? 'service' : 'user',
        id: pick(['u1', 'u2', 's1', 's2']),
        roles: ROLES.filter(() => chance(0.3)),
        attributes,
      },
      action: pick(METHODS),
      resource: { routeId: route, ...(chance(0.8) ? { upstream: pick(UPSTREAMS) } : {}) },
      context: { path: suffix === 'export' ? `/${route}/export` : `/${route}/${suffix}`, ...(chance(0.3) ? { mfaTime: Math.floor(NOW / 1000) - 60 } : {}) },
      now: NOW,
    };
  }

  return { policySet, directory, request };
}

function comparable(d: PolicyDecision) {
  return {
    allowed: d.allowed,
    basis: d.basis,
    reasons: d.reasons,
    errors: d.errors,
  };
}

describe('policy splitting: split and unsplit engines agree', () => {
  test('on 30 random policy sets × 120 random requests each', () => {
    let allows = 0;
    let forbids = 0;
    let errors = 0;
    let total = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const g = generator(seed);
      const text = g.policySet(5 + (seed % 4) * 10);
      const dir = g.directory();
      // A tiny subset bound on every other seed so eviction and re-preparing are exercised too.
      const split = new PolicyEngine({ cacheSize: 0, recentDecisions: 0, ...(seed % 2 === 0 ? { maxSubsets: 2 } : {}) });
      const whole = new PolicyEngine({ cacheSize: 0, recentDecisions: 0, split: false });
      for (const e of [split, whole]) {
        e.setDirectory(dir);
        e.load('main', { policies: text });
      }
      for (let i = 0; i < 120; i++) {
        const req = g.request();
        const a = split.authorize(req);
        const b = whole.authorize(req);
        assert.deepEqual(comparable(a), comparable(b), `seed ${seed} request ${i}: ${JSON.stringify(req)}\n${text}`);
        total++;
        if (b.allowed) allows++;
        if (b.basis === 'forbid') forbids++;
        if (b.errors.length > 0) errors++;
      }
    }
    // The generator must reach every kind of outcome, or agreement proves little.
    assert.ok(allows > total * 0.1, `allows: ${allows}/${total}`);
    assert.ok(forbids > total * 0.05, `forbids: ${forbids}/${total}`);
    assert.ok(errors > total * 0.02, `decisions with errors: ${errors}/${total}`);
  });

  test('agree after the directory changes route groups (the split follows the new groups)', () => {
    const text = '@id("g") permit(principal, action, resource in Gatehouse::RouteGroup::"g0");';
    const split = new PolicyEngine({ cacheSize: 0 });
    const whole = new PolicyEngine({ cacheSize: 0, split: false });
    const req: AuthorizationRequest = { policySet: 'main', principal: { kind: 'user', id: 'u', roles: [] }, action: 'GET', resource: { routeId: 'r0' }, context: {} };
    for (const e of [split, whole]) { e.setDirectory({ routeGroups: { g0: [] } }); e.load('main', { policies: text }); }
    assert.equal(split.authorize(req).allowed, false);
    for (const e of [split, whole]) e.setDirectory({ routeGroups: { g0: ['r0'] } });
    assert.equal(split.authorize(req).allowed, true);
    assert.equal(whole.authorize(req).allowed, true);
  });

  test('a forbid that errors still denies when the permit is in another partition bucket', () => {
    const text = '@id("p") permit(principal, action, resource == Gatehouse::Route::"r0");\n@id("f") forbid(principal, action, resource in Gatehouse::Upstream::"u0") when { principal.blocked };';
    const e = new PolicyEngine({ cacheSize: 0 });
    e.load('main', { policies: text });
    const d = e.authorize({ policySet: 'main', principal: { kind: 'user', id: 'u', roles: [] }, action: 'GET', resource: { routeId: 'r0', upstream: 'u0' }, context: {} });
    assert.equal(d.allowed, false);
    assert.equal(d.basis, 'forbid-error');
    const other = e.authorize({ policySet: 'main', principal: { kind: 'user', id: 'u', roles: [] }, action: 'GET', resource: { routeId: 'r0', upstream: 'u1' }, context: {} });
    assert.equal(other.allowed, true);
  });
});
