import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { routeSchema, upstreamSchema, type RouteConfig, type UpstreamConfig } from '../../src/core/config/gateway-schema.ts';
import { compileRouter, normalizeHost, RouteConfigError, stripRoutePrefix, validateRoutes } from '../../src/gateway/router/router.ts';
import { normalizePath } from '../../src/gateway/router/normalize-path.ts';
import { isValidHostHeader } from '../../src/gateway/router/normalize-host.ts';
import { GatehouseError } from '../../src/core/errors.ts';

const upstreams: Record<string, UpstreamConfig> = {
  web: upstreamSchema.parse({ url: 'http://127.0.0.1:9001' }),
  api: upstreamSchema.parse({ url: 'http://127.0.0.1:9002' }),
  admin: upstreamSchema.parse({ url: 'http://127.0.0.1:9003' }),
};

function route(id: string, path: string, upstream: string, extra: Partial<RouteConfig> = {}): RouteConfig {
  return routeSchema.parse({ id, path, upstream, ...extra });
}

function routeOf(router: ReturnType<typeof compileRouter>, host: string, target: string): string | undefined {
  return router.match(host, normalizePath(target).path)?.id;
}

describe('compileRouter: matching', () => {
  const router = compileRouter([
    route('root', '/', 'web'),
    route('api', '/api', 'api'),
    route('api-v2', '/api/v2', 'api', { stripPrefix: true }),
    route('admin', '/admin', 'admin', { host: 'admin.example.com' }),
    route('admin-root', '/', 'admin', { host: 'OPS.example.com' }),
  ], upstreams, { maxBodyBytes: 1024 });

  test('longest prefix wins, on whole segments only', () => {
    assert.equal(routeOf(router, 'x', '/api'), 'api');
    assert.equal(routeOf(router, 'x', '/api/'), 'api');
    assert.equal(routeOf(router, 'x', '/api/x'), 'api');
    assert.equal(routeOf(router, 'x', '/apix'), 'root');
    assert.equal(routeOf(router, 'x', '/api/v2'), 'api-v2');
    assert.equal(routeOf(router, 'x', '/api/v2/users'), 'api-v2');
    assert.equal(routeOf(router, 'x', '/api/v20'), 'api');
    assert.equal(routeOf(router, 'x', '/'), 'root');
  });

  test('host matching is case-insensitive and ignores port and trailing dot', () => {
    for (const host of ['admin.example.com', 'ADMIN.Example.com', 'admin.example.com:8443', 'admin.example.com.', 'Admin.Example.Com.:443']) {
      assert.equal(routeOf(router, host, '/admin/users'), 'admin', host);
    }
  });

  test('a host without a matching route falls back to the * routes', () => {
    assert.equal(routeOf(router, 'admin.example.com', '/api/x'), 'api');
    assert.equal(routeOf(router, 'other.example.com', '/admin'), 'root');
    assert.equal(routeOf(router, '', '/admin'), 'root');
    assert.equal(routeOf(router, 'ops.example.com', '/admin'), 'admin-root');
  });

  test('a traversal /api/%2e%2e/admin only reaches the route its normalized path (/admin) routes to', () => {
    assert.equal(normalizePath('/api/%2e%2e/admin').path, '/admin');
    assert.equal(routeOf(router, 'admin.example.com', '/api/%2e%2e/admin'), 'admin');
    assert.equal(routeOf(router, 'www.example.com', '/api/%2e%2e/admin'), 'root');
    assert.throws(() => routeOf(router, 'admin.example.com', '/api/v2/..%2f..%2fadmin'), { code: 'ERR_REQUEST_PATH_INVALID' });
  });

  test('__proto__ and constructor as host or path segment do not break lookup', () => {
    const r = compileRouter([
      route('proto', '/__proto__', 'web', { host: '__proto__' }),
      route('ctor', '/constructor', 'api'),
      route('fallback', '/', 'admin'),
    ], upstreams, { maxBodyBytes: 1 });
    assert.equal(routeOf(r, '__proto__', '/__proto__/x'), 'proto');
    assert.equal(routeOf(r, '__proto__', '/constructor'), 'ctor');
    assert.equal(routeOf(r, 'constructor', '/__proto__'), 'fallback');
    assert.equal(routeOf(r, 'toString', '/constructor/prototype'), 'ctor');
    assert.equal(routeOf(r, 'hasOwnProperty', '/valueOf'), 'fallback');
  });

  test('without a * route an unknown host matches nothing', () => {
    const r = compileRouter([route('only', '/', 'web', { host: 'a.example' })], upstreams, { maxBodyBytes: 1 });
    assert.equal(routeOf(r, 'a.example', '/x'), 'only');
    assert.equal(routeOf(r, 'b.example', '/x'), undefined);
  });

  test('compiled routes carry the defaults and their methods', () => {
    const r = compileRouter([
      route('a', '/a/', 'web', { methods: ['GET'] }),
      route('b', '/b', 'web', { maxBodyBytes: 5 }),
    ], upstreams, { maxBodyBytes: 1024 });
    const a = r.match('x', '/a/x')!;
    assert.equal(a.prefix, '/a');
    assert.equal(a.maxBodyBytes, 1024);
    assert.deepEqual([...a.methods!], ['GET']);
    assert.equal(a.upstream.url, 'http://127.0.0.1:9001');
    assert.equal(r.match('x', '/b')!.maxBodyBytes, 5);
    assert.ok(Object.isFrozen(a));
  });
});

describe('compileRouter: validation', () => {
  function problemsOf(routes: RouteConfig[]) {
    return validateRoutes(routes, upstreams).map((p) => `${p.path.join('.')}: ${p.message}`);
  }

  test('a duplicate host + path is reported with the index of the second route', () => {
    const problems = problemsOf([route('a', '/api', 'api'), route('b', '/api/', 'api'), route('c', '/api', 'api', { host: 'x.example' })]);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^routes\.1\.path: same host and path prefix as routes\.0/);
  });

  test('an unknown upstream and a duplicate id are reported', () => {
    const problems = problemsOf([route('a', '/a', 'api'), route('a', '/b', 'nope')]);
    assert.deepEqual(problems.map((p) => p.split(':')[0]), ['routes.1.id', 'routes.1.upstream']);
  });

  test('prefixes that normalize differently are refused with the normalized form', () => {
    const problems = problemsOf([
      route('a', '/api/../admin', 'api'),
      route('b', '/a//b', 'api'),
      route('c', '/caf%c3%a9', 'api'),
      route('d', '/a%2fb', 'api'),
      route('e', '/..;/x', 'api'),
      route('f', '/ok/%2E', 'api'),
    ]);
    assert.equal(problems.length, 6, problems.join('\n'));
    assert.match(problems[0]!, /^routes\.0\.path: .*normalizes to "\/admin"/);
    assert.match(problems[2]!, /normalizes to "\/caf%C3%A9"/);
    assert.match(problems[3]!, /^routes\.3\.path: .*not a valid path/);
    assert.match(problems[4]!, /^routes\.4\.path: .*not a valid path/);
  });

  test('hosts with a port, a wildcard label or bad syntax are refused', () => {
    const problems = problemsOf([
      route('a', '/', 'api', { host: 'example.com:8443' }),
      route('b', '/', 'api', { host: '*.example.com' }),
      route('c', '/', 'api', { host: 'bad host' }),
      route('d', '/', 'api', { host: '::1' }),
      route('e', '/', 'api', { host: '[::1]' }),
      route('f', '/', 'api', { host: '10.0.0.1' }),
    ]);
    assert.deepEqual(problems.map((p) => p.split(':')[0]), ['routes.0.host', 'routes.1.host', 'routes.2.host', 'routes.3.host']);
  });

  test('compileRouter throws ERR_CONFIG_INVALID listing every problem', () => {
    assert.throws(() => compileRouter([route('a', '/x/..', 'nope')], upstreams, { maxBodyBytes: 1 }), (err: unknown) => {
      assert.ok(err instanceof RouteConfigError);
      assert.ok(err instanceof GatehouseError);
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.equal(err.problems.length, 2);
      return true;
    });
  });
});

describe('stripRoutePrefix', () => {
  const r = compileRouter([
    route('s', '/api', 'api', { stripPrefix: true }),
    route('k', '/keep', 'api'),
    route('root', '/', 'api', { stripPrefix: true }),
  ], upstreams, { maxBodyBytes: 1 });

  test('removes the prefix only when the route asks for it', () => {
    assert.equal(stripRoutePrefix(r.match('h', '/api/x/y')!, '/api/x/y'), '/x/y');
    assert.equal(stripRoutePrefix(r.match('h', '/api')!, '/api'), '/');
    assert.equal(stripRoutePrefix(r.match('h', '/api/')!, '/api/'), '/');
    assert.equal(stripRoutePrefix(r.match('h', '/keep/x')!, '/keep/x'), '/keep/x');
    assert.equal(stripRoutePrefix(r.match('h', '/other')!, '/other'), '/other');
  });

  test('refuses a path that is not under the route prefix instead of forwarding it', () => {
    assert.throws(() => stripRoutePrefix(r.match('h', '/api')!, '/apix'), { code: 'ERR_INTERNAL' });
  });
});

describe('normalizeHost', () => {
  test('returns normal hosts unchanged and strips port and trailing dot', () => {
    assert.equal(normalizeHost('example.com'), 'example.com');
    assert.equal(normalizeHost('EXAMPLE.com:80'), 'example.com');
    assert.equal(normalizeHost('[::1]:8443'), '[::1]');
    assert.equal(normalizeHost('[2001:DB8::1]'), '[2001:db8::1]');
    assert.equal(normalizeHost('example.com.'), 'example.com');
    assert.equal(normalizeHost(''), '');
  });
});

describe('isValidHostHeader', () => {
  test('accepts host[:port] for names, IPv4 and bracketed IPv6', () => {
    for (const v of ['example.com', 'EXAMPLE.com:8443', '127.0.0.1:80', '[::1]', '[2001:db8::1]:443', 'svc_a.internal']) assert.equal(isValidHostHeader(v), true, v);
  });
  test('refuses a host with an empty label (secure.example.. would match secure.example while policies see another host)', () => {
    for (const v of ['secure.example..', 'secure.example..:8443', 'a..b', '..']) assert.equal(isValidHostHeader(v), false, v);
    assert.equal(isValidHostHeader('secure.example.'), true, 'one trailing dot is a fully qualified name');
  });
  test('refuses userinfo, repeated values, escapes, bad ports and broken IPv6 (host-header injection)', () => {
    for (const v of ['', 'a@b', 'a.com:80@b.com', 'a,b', 'a b', 'a%2eb', 'a:', 'a:123456', '[::1', '[zz::1]', '::1', 'a/b', 'a"b']) assert.equal(isValidHostHeader(v), false, v);
  });
});
