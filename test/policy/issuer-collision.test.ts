/**
 * Policies that name one principal, against an external issuer (`principals: claims`) that
 * mints the same `sub`: identities from the real authentication stage, decided by the real
 * authorize stage. A bare id in a policy names Gatehouse's own principal; another issuer's
 * principal is `<issuer>#<sub>`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { routeSchema, upstreamSchema } from '../../src/core/config/gateway-schema.ts';
import { isGatehouseError } from '../../src/core/errors.ts';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { createAuthorizeStage } from '../../src/gateway/pipeline/authorize.ts';
import { compileRouter } from '../../src/gateway/router/router.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { collidingIdentities, type CollidingIdentities } from '../authn/support/colliding-identities.ts';
import { createSetup, JWKS_ISSUER, type Setup } from '../authn/support/setup.ts';

const router = compileRouter([routeSchema.parse({ id: 'docs', path: '/docs', upstream: 'app', policy: 'docs' })], { app: upstreamSchema.parse({ url: 'http://127.0.0.1:1' }) }, { maxBodyBytes: 1024 });

function allowed(engine: PolicyEngine, identity: Identity): boolean {
  const message = new IncomingMessage(new Socket());
  const ctx = new RequestContext(message, new ServerResponse(message), {} as Generation);
  ctx.method = 'GET';
  ctx.path = '/docs/x';
  ctx.clientAddress = '192.0.2.10';
  ctx.route = router.routes[0]!;
  ctx.identity = identity;
  try {
    createAuthorizeStage({ engine })(ctx);
    return ctx.authorized;
  } catch (err) {
    if (isGatehouseError(err) && err.code === 'ERR_POLICY_DENIED') return false;
    throw err;
  }
}

function engineWith(policies: string): PolicyEngine {
  const e = new PolicyEngine();
  e.load('docs', { policies });
  return e;
}

describe('policies naming one principal, across issuers', () => {
  let s: Setup;
  let ids: CollidingIdentities;
  before(async () => {
    s = await createSetup();
    ids = await collidingIdentities(s);
  });
  after(async () => { await s.close(); });

  test('subject collision from another issuer does not match a policy rule for the local user', () => {
    const engine = engineWith('@id("alice-only") permit(principal == Gatehouse::User::"alice", action, resource == Gatehouse::Route::"docs");');
    assert.equal(allowed(engine, ids.local), true, 'the local user alice');
    assert.equal(allowed(engine, ids.foreign), false, 'the other issuer\'s "alice"');
  });

  test('subject collision from another issuer naming a local user id (usr_…, seen in URLs and logs) does not match a policy rule for that user', async () => {
    const engine = engineWith('@id("owner") permit(principal == Gatehouse::User::"usr_Zk3q9xw2", action, resource);');
    const { local, foreign } = await collidingIdentities(s, 'usr_Zk3q9xw2');
    assert.equal(allowed(engine, local), true);
    assert.equal(allowed(engine, foreign), false);
  });

  test('a rule naming the other issuer\'s principal as <issuer>#<sub> matches it and not the local user', () => {
    const engine = engineWith(`@id("ext-alice") permit(principal == Gatehouse::User::"${JWKS_ISSUER}#alice", action, resource);`);
    assert.equal(allowed(engine, ids.foreign), true);
    assert.equal(allowed(engine, ids.local), false);
  });

  test('role-based rules are unchanged: the issuer is trusted with the roles it puts in its tokens', () => {
    const engine = engineWith('@id("readers") permit(principal in Gatehouse::Role::"reader", action, resource);');
    assert.equal(allowed(engine, ids.foreign), true);
  });
});
