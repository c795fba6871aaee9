/** Per-route settings keyed by route id must name a configured route: a typo is refused by path, not ignored. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

const base = {
  upstreams: { app: { url: 'http://127.0.0.1:9' } },
  routes: [{ id: 'login', path: '/login', upstream: 'app', access: 'public' }],
};

function problemsOf(document: unknown): string[] {
  try { parseConfig(document, { env: { NODE_ENV: 'test' } }); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  return [];
}

describe('route ids in per-route settings', () => {
  it('refuses a per-route rate limit for a route id that names no route (a typo left the route at the default limit without a word)', () => {
    const problems = problemsOf({ ...base, ratelimit: { identity: { routes: { logn: { rate: 5, periodMs: 60_000, burst: 5 } } } } });
    assert.deepEqual(problems, ['ratelimit.identity.routes.logn: no route has the id "logn"']);
  });

  it('accepts one for a configured route', () => {
    assert.deepEqual(problemsOf({ ...base, ratelimit: { identity: { routes: { login: { rate: 5, periodMs: 60_000, burst: 5 } } } } }), []);
  });
});

describe('a policy named on a route that never consults it', () => {
  it('refuses `policy` with access: authenticated (read as protection, it let every signed-in principal through) or public, naming the route\'s policy key', () => {
    for (const access of ['authenticated', 'public']) {
      const problems = problemsOf({ ...base, routes: [{ id: 'admin', path: '/admin', upstream: 'app', access, policy: 'admins-only' }] });
      assert.deepEqual(problems, [`routes.0.policy: policy "admins-only" is never consulted with access: ${access}; set access: policy (or remove policy)`]);
    }
  });

  it('accepts it with access: policy (also the default)', () => {
    assert.deepEqual(problemsOf({ ...base, routes: [{ id: 'admin', path: '/admin', upstream: 'app', access: 'policy', policy: 'admins-only' }] }), []);
    assert.deepEqual(problemsOf({ ...base, routes: [{ id: 'admin', path: '/admin', upstream: 'app', policy: 'admins-only' }] }), []);
  });
});
