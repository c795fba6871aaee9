/**
 * A route with `access: public` to an upstream with credentials lets anyone, unauthenticated,
 * act with the credential the gateway holds (docs/credential-isolation.md): warned about in
 * development, refused in production, unless the upstream says `credentials.publicRoutes: true`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';

const input = (publicRoutes?: boolean, access: 'public' | 'authenticated' = 'public'): ConfigInput => ({
  upstreams: { legacy: { url: 'https://legacy.internal', credentials: { headers: { 'x-api-key': 'k-0123456789abcdef' }, ...(publicRoutes === undefined ? {} : { publicRoutes }) } } },
  routes: [{ id: 'legacy', path: '/legacy', upstream: 'legacy', access }],
});

describe('public routes to an upstream with credentials', () => {
  it('production refuses a public route that hands anyone the upstream credential, naming routes.<i>.access', () => {
    assert.throws(() => parseConfig({ ...input(), mode: 'production' }, { env: { NODE_ENV: 'production' }, source: 'test' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const p = err.problems.find((x) => x.path.join('.') === 'routes.0.access');
      assert.ok(p, JSON.stringify(err.problems));
      assert.match(p.message, /not allowed in production: .*public.*credentials/);
      assert.ok(!p.message.includes('k-0123456789abcdef'), 'never the value');
      return true;
    });
  });

  it('development accepts it with a warning at routes.<i>.access', () => {
    const { warnings } = parseConfig(input(), { env: {}, source: 'test' });
    assert.ok(warnings.some((w) => w.path.join('.') === 'routes.0.access'), JSON.stringify(warnings));
  });

  it('no warning with credentials.publicRoutes: true, nor for an authenticated route', () => {
    assert.ok(!parseConfig(input(true), { env: {}, source: 'test' }).warnings.some((w) => w.path.join('.') === 'routes.0.access'));
    assert.ok(!parseConfig(input(undefined, 'authenticated'), { env: {}, source: 'test' }).warnings.some((w) => w.path.join('.') === 'routes.0.access'));
  });
});
