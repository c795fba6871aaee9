/** routes[].stepUp is validated with the route: impossible or malformed rules are refused by path. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

const upstreams = { app: { url: 'http://127.0.0.1:9' } };

function problemsOf(document: unknown): string[] {
  try { parseConfig(document, { env: { NODE_ENV: 'test' } }); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  return [];
}

describe('routes[].stepUp', () => {
  it('refuses stepUp on an access: public route (nothing is authenticated there, the rule would never be checked), naming routes.<i>.stepUp', () => {
    const problems = problemsOf({ upstreams, routes: [{ id: 'open', path: '/open', upstream: 'app', access: 'public', stepUp: { maxAgeSeconds: 300 } }] });
    assert.deepEqual(problems, ['routes.0.stepUp: step-up needs an authenticated principal; not possible with access: public']);
  });

  it('refuses a malformed rule (zero or fractional max age, unknown method, unknown key) by path', () => {
    for (const stepUp of [{ maxAgeSeconds: 0 }, { maxAgeSeconds: 1.5 }, { maxAgeSeconds: 60, methods: ['TRACE'] }, { maxAgeSeconds: 60, exempt: ['api_token'] }, {}]) {
      const problems = problemsOf({ upstreams, routes: [{ id: 'admin', path: '/admin', upstream: 'app', access: 'authenticated', stepUp }] });
      assert.ok(problems.length > 0 && problems.every((p) => p.startsWith('routes.0.stepUp')), `${JSON.stringify(stepUp)}: ${problems.join('; ')}`);
    }
  });

  it('accepts it on authenticated and policy routes, methods defaulting to all', () => {
    assert.deepEqual(problemsOf({ upstreams, routes: [{ id: 'admin', path: '/admin', upstream: 'app', access: 'authenticated', stepUp: { maxAgeSeconds: 300 } }] }), []);
    assert.deepEqual(problemsOf({ upstreams, routes: [{ id: 'keys', path: '/admin/keys', upstream: 'app', stepUp: { maxAgeSeconds: 60, methods: ['POST', 'DELETE'] } }] }), []);
  });
});
