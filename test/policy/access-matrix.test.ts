/**
 * Access matrix: every route of a test configuration × every identity class → the expected
 * outcome, checked cell by cell. Any unexpected allow or deny fails.
 *
 * At this level the chain is: real router (405 for a method the route does not accept) →
 * bearer-token authentication with real ES256 tokens (jose; a test stand-in for the
 * authenticate stage: issuer, audience, expiry, revocation) → the real authorize stage and
 * policy engine with the policy files in fixtures/policies. The gateway end-to-end run
 * replaces `outcome()` with real HTTP requests through the gateway; the table stays.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { SignJWT, generateKeyPair, jwtVerify, errors, type CryptoKey } from 'jose';
import { routeSchema, upstreamSchema, type RouteConfig } from '../../src/core/config/gateway-schema.ts';
import { GatehouseError } from '../../src/core/errors.ts';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { createAuthorizeStage } from '../../src/gateway/pipeline/authorize.ts';
import { compileRouter, type Router } from '../../src/gateway/router/router.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { reloadPolicyDirectory } from '../../src/policy/io/policy-files.ts';
import type { CompiledRoute } from '../../src/gateway/router/types.ts';

const ISSUER = 'https://idp.test';
const POLICIES = join(import.meta.dirname, 'fixtures', 'policies');

type Outcome = 'allow' | 401 | 403 | 405;
const CLASSES = ['anonymous', 'userWithoutRole', 'userWithRole', 'admin', 'serviceA', 'serviceB', 'expiredToken', 'revokedToken', 'otherAudienceToken', 'wrongMethod'] as const;
type IdentityClass = typeof CLASSES[number];
type Principal = 'userWithoutRole' | 'userWithRole' | 'admin' | 'serviceA' | 'serviceB';

interface MatrixRoute {
  config: Record<string, unknown>;
  method: string;
  path: string;
  /** Who is rightly allowed here; the wrongMethod class is this principal with `wrongMethod`. */
  rightUser: Principal;
  wrongMethod: string;
  expect: Record<IdentityClass, Outcome>;
}

const A = 'allow';
const ROUTES: MatrixRoute[] = [
  {
    config: { id: 'home', path: '/', upstream: 'web', access: 'public' },
    method: 'GET', path: '/', rightUser: 'userWithRole', wrongMethod: 'DELETE',
    expect: { anonymous: A, userWithoutRole: A, userWithRole: A, admin: A, serviceA: A, serviceB: A, expiredToken: A, revokedToken: A, otherAudienceToken: A, wrongMethod: A },
  },
  {
    config: { id: 'whoami', path: '/whoami', upstream: 'web', access: 'authenticated', methods: ['GET'] },
    method: 'GET', path: '/whoami', rightUser: 'userWithoutRole', wrongMethod: 'POST',
    expect: { anonymous: 401, userWithoutRole: A, userWithRole: A, admin: A, serviceA: A, serviceB: A, expiredToken: 401, revokedToken: 401, otherAudienceToken: 401, wrongMethod: 405 },
  },
  {
    config: { id: 'inbox', path: '/mail/inbox', upstream: 'mail-web', access: 'policy', policy: 'mail' },
    method: 'GET', path: '/mail/inbox', rightUser: 'userWithRole', wrongMethod: 'DELETE',
    expect: { anonymous: 401, userWithoutRole: 403, userWithRole: A, admin: A, serviceA: 403, serviceB: 403, expiredToken: 401, revokedToken: 401, otherAudienceToken: 401, wrongMethod: 403 },
  },
  {
    config: { id: 'admin-console', path: '/admin', upstream: 'web', access: 'policy', policy: 'admin' },
    method: 'GET', path: '/admin/users', rightUser: 'admin', wrongMethod: 'POST',
    expect: { anonymous: 401, userWithoutRole: 403, userWithRole: 403, admin: A, serviceA: 403, serviceB: 403, expiredToken: 401, revokedToken: 401, otherAudienceToken: 401, wrongMethod: 403 },
  },
  {
    config: { id: 'store', path: '/internal/store', upstream: 'mail-store', access: 'policy', policy: 'mail' },
    method: 'GET', path: '/internal/store/messages/42', rightUser: 'serviceA', wrongMethod: 'DELETE',
    expect: { anonymous: 401, userWithoutRole: 403, userWithRole: 403, admin: 403, serviceA: A, serviceB: 403, expiredToken: 401, revokedToken: 401, otherAudienceToken: 401, wrongMethod: 403 },
  },
  {
    config: { id: 'outbox', path: '/internal/outbox', upstream: 'mail-store', access: 'policy', policy: 'mail' },
    method: 'POST', path: '/internal/outbox', rightUser: 'serviceB', wrongMethod: 'GET',
    expect: { anonymous: 401, userWithoutRole: 403, userWithRole: 403, admin: 403, serviceA: 403, serviceB: A, expiredToken: 401, revokedToken: 401, otherAudienceToken: 401, wrongMethod: 403 },
  },
  {
    // Names a set that does not exist: fail closed for everyone who gets this far.
    config: { id: 'billing', path: '/billing', upstream: 'web', access: 'policy', policy: 'billing' },
    method: 'GET', path: '/billing', rightUser: 'admin', wrongMethod: 'DELETE',
    expect: { anonymous: 401, userWithoutRole: 403, userWithRole: 403, admin: 403, serviceA: 403, serviceB: 403, expiredToken: 401, revokedToken: 401, otherAudienceToken: 401, wrongMethod: 403 },
  },
  {
    // access: policy without any set named: fail closed.
    config: { id: 'unset', path: '/unset', upstream: 'web', access: 'policy' },
    method: 'GET', path: '/unset', rightUser: 'admin', wrongMethod: 'DELETE',
    expect: { anonymous: 401, userWithoutRole: 403, userWithRole: 403, admin: 403, serviceA: 403, serviceB: 403, expiredToken: 401, revokedToken: 401, otherAudienceToken: 401, wrongMethod: 403 },
  },
];

const PRINCIPALS: Record<Principal, { sub: string; kind: 'user' | 'service'; roles: string[] }> = {
  userWithoutRole: { sub: 'bob', kind: 'user', roles: [] },
  userWithRole: { sub: 'alice', kind: 'user', roles: ['mail-user'] },
  admin: { sub: 'root', kind: 'user', roles: ['admin'] },
  serviceA: { sub: 'mail-api', kind: 'service', roles: [] },
  serviceB: { sub: 'mailer', kind: 'service', roles: [] },
};

let idpKey: CryptoKey;
let idpPublic: CryptoKey;
const revoked = new Set<string>();
let router: Router;
const engine = new PolicyEngine();
const stage = createAuthorizeStage({ engine });

async function token(p: Principal, audience: string, opts: { expired?: boolean; jti?: string } = {}): Promise<string> {
  const who = PRINCIPALS[p];
  const now = Math.floor(Date.now() / 1000);
  const iat = opts.expired ? now - 3600 : now;
  return new SignJWT({ kind: who.kind, roles: who.roles, amr: ['pwd'] })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(ISSUER).setSubject(who.sub).setAudience(audience).setIssuedAt(iat).setExpirationTime(iat + 300)
    .setJti(opts.jti ?? crypto.randomUUID()).sign(idpKey);
}

/** Test stand-in for the authenticate stage: bearer JWT → Identity, or a 401 GatehouseError. */
async function authenticate(bearer: string | undefined, route: CompiledRoute): Promise<Identity> {
  if (bearer === undefined) throw new GatehouseError('ERR_AUTHN_REQUIRED');
  let payload;
  try {
    ({ payload } = await jwtVerify(bearer, idpPublic, { issuer: ISSUER, audience: route.config.authentication.audiences ?? [route.id], algorithms: ['ES256'] }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new GatehouseError('ERR_AUTHN_TOKEN_EXPIRED');
    if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') throw new GatehouseError('ERR_AUTHN_TOKEN_AUDIENCE');
    throw new GatehouseError('ERR_AUTHN_TOKEN_INVALID');
  }
  if (revoked.has(String(payload.jti))) throw new GatehouseError('ERR_AUTHN_TOKEN_REVOKED');
  return {
    subject: String(payload.sub), kind: payload.kind === 'service' ? 'service' : 'user', roles: payload.roles as string[],
    method: 'jwt', amr: payload.amr as string[], authTime: payload.iat, mfaTime: undefined, credentialId: String(payload.jti), issuer: ISSUER, attributes: {},
  };
}

function context(method: string, path: string, route: CompiledRoute, identity: Identity): RequestContext {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.url = path;
  const ctx = new RequestContext(req, new ServerResponse(req), {} as Generation);
  ctx.requestId = crypto.randomUUID();
  ctx.method = method;
  ctx.path = path;
  ctx.host = 'gateway.test';
  ctx.clientAddress = '203.0.113.7';
  ctx.route = route;
  ctx.identity = identity;
  return ctx;
}

async function bearerFor(cls: IdentityClass, r: MatrixRoute): Promise<string | undefined> {
  const aud = String(r.config.id);
  switch (cls) {
    case 'anonymous': return undefined;
    case 'expiredToken': return token('userWithRole', aud, { expired: true });
    case 'revokedToken': {
      const jti = `revoked-${aud}`;
      revoked.add(jti);
      return token('userWithRole', aud, { jti });
    }
    case 'otherAudienceToken': return token('userWithRole', 'some-other-api');
    case 'wrongMethod': return token(r.rightUser, aud);
    default: return token(cls, aud);
  }
}

async function outcome(r: MatrixRoute, cls: IdentityClass): Promise<{ outcome: Outcome; decisionId?: string }> {
  const method = cls === 'wrongMethod' ? r.wrongMethod : r.method;
  const route = router.match('gateway.test', r.path);
  assert.ok(route, `route for ${r.path}`);
  if (route.methods && !route.methods.has(method)) return { outcome: 405 };
  if (route.config.access === 'public') return { outcome: 'allow' };
  let identity: Identity;
  try {
    identity = await authenticate(await bearerFor(cls, r), route);
  } catch (err) {
    assert.ok(err instanceof GatehouseError && err.status === 401, String(err));
    return { outcome: 401 };
  }
  const ctx = context(method, r.path, route, identity);
  try {
    await stage(ctx);
    return { outcome: 'allow' };
  } catch (err) {
    assert.ok(err instanceof GatehouseError, String(err));
    assert.equal(err.code, 'ERR_POLICY_DENIED', `${r.config.id} × ${cls}: ${err.message}`);
    const decisionId = err.data?.decisionId;
    assert.equal(typeof decisionId, 'string', 'a denial carries its decision id');
    return { outcome: 403, decisionId: decisionId as string };
  }
}

before(async () => {
  ({ privateKey: idpKey, publicKey: idpPublic } = await generateKeyPair('ES256'));
  const routes: RouteConfig[] = ROUTES.map((r) => routeSchema.parse(r.config));
  const upstreams = Object.fromEntries(['web', 'mail-web', 'mail-store'].map((n) => [n, upstreamSchema.parse({ url: `http://127.0.0.1:1/${n}` })]));
  router = compileRouter(routes, upstreams, { maxBodyBytes: 1024 });
  engine.setDirectory({ roles: { admin: ['mail-user'] }, routeGroups: { admin: ['admin-console'] } });
  const report = await reloadPolicyDirectory(engine, POLICIES);
  assert.deepEqual(report.failed, {});
  assert.deepEqual(report.loaded.sort(), ['admin', 'mail']);
});

test('access matrix: every route × every identity class gets exactly the expected decision', async () => {
  const wrong: string[] = [];
  let cells = 0;
  for (const r of ROUTES) {
    for (const cls of CLASSES) {
      cells++;
      const got = await outcome(r, cls);
      const want = r.expect[cls];
      if (got.outcome !== want) {
        const kind = got.outcome === 'allow' ? 'UNEXPECTED ALLOW' : want === 'allow' ? 'UNEXPECTED DENY' : 'WRONG STATUS';
        const why = got.decisionId ? `\n${engine.explain(engine.decision(got.decisionId)!)}` : '';
        wrong.push(`${kind}: route ${String(r.config.id)} × ${cls}: expected ${want}, got ${got.outcome}${why}`);
      }
      if (got.decisionId) assert.ok(engine.decision(got.decisionId), 'the decision id resolves');
    }
  }
  console.log(`# access matrix: ${cells} cells checked (${ROUTES.length} routes × ${CLASSES.length} identity classes), ${wrong.length} wrong`);
  assert.equal(cells, ROUTES.length * CLASSES.length);
  assert.deepEqual(wrong, []);
});
