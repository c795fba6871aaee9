/**
 * On a route with `stepUp`, the requester needs a fresh second factor to send the request,
 * but the approvers' API only authenticated the approver: a password-only session or token
 * could approve what a password alone cannot do. Deciding now needs the route's step-up too.
 * Own-issuer JWTs (the test's key is in the IdP's JWKS) choose `amr` and `auth_time`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Agent, buildConnector, request } from 'undici';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { parseConfig } from '../../src/core/config/load.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { createIdentityComponent, type IdentityComponent } from '../../src/gateway/extensions/identity.ts';
import type { Platform } from '../../src/gateway/extensions/platform.ts';
import type { IdentityProvider } from '../../src/identity/identity-provider.ts';
import { createAuthnComponent } from '../../src/authn/authn-component.ts';
import { approvalsExtension } from '../../src/approvals/approvals-component.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const PUBLIC = 'https://gw.test';

describe('approvers on a step-up route', () => {
  let dir: string;
  let store: Store;
  let bus: MemoryEventBus;
  let upstream: TestUpstream;
  let gw: TestGateway;
  let identity: IdentityComponent;
  let port = 0;
  const ids: Record<string, string> = {};
  let key: { privateKey: CryptoKey; kid: string };
  const connector = buildConnector({ rejectUnauthorized: false });
  const dispatcher = new Agent({ connect: (opts, cb) => connector({ ...opts, hostname: '127.0.0.1', port: String(port), servername: 'localhost' }, cb) });

  async function call(method: string, path: string, token: string): Promise<{ status: number; body: string }> {
    const res = await request(PUBLIC + path, { method: method as 'POST', headers: { authorization: `Bearer ${token}` }, dispatcher });
    return { status: res.statusCode, body: await res.body.text() };
  }
  async function token(who: string, amr: string[]): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: identity.idp.issuer, aud: PUBLIC, sub: ids[who], iat: now, exp: now + 300, jti: `t-${Math.random()}`, amr, auth_time: now - 10 })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
  }
  const code = (r: { body: string }) => (JSON.parse(r.body) as { error: { code: string; approvalId?: string } }).error;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-approver-step-up-'));
    upstream = await startUpstream();
    const input: ConfigInput = {
      mode: 'development', publicUrl: PUBLIC, dataDir: dir,
      upstreams: { app: { url: upstream.url } },
      routes: [{
        id: 'payouts', path: '/payouts', upstream: 'app', access: 'authenticated', authentication: { methods: ['jwt'] },
        stepUp: { maxAgeSeconds: 300 }, approval: { approverRoles: ['finance-lead'] },
      }],
    };
    const config = parseConfig({ ...input, listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } }, { env: process.env, source: 'test' }).config;
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    await store.migrate();
    bus = new MemoryEventBus({ instanceId: 'gw-test' });
    const platform = { config, store, bus, logger: pino({ level: 'silent' }) } as unknown as Platform;
    identity = await createIdentityComponent(platform);
    ids.alice = (await identity.idp.accounts.addUser({ username: 'alice', password: 'correct horse battery staple', roles: ['ops'] })).id;
    ids.bob = (await identity.idp.accounts.addUser({ username: 'bob', password: 'correct horse battery staple', roles: ['finance-lead'] })).id;
    const pair = await generateKeyPair('ES256');
    key = { privateKey: pair.privateKey, kid: 'test-own' };
    const testJwk = { ...(await exportJWK(pair.publicKey)), kid: key.kid, alg: 'ES256', use: 'sig' };
    const idp: IdentityProvider = { ...identity.idp, issuer: identity.idp.issuer, publicJwks: () => ({ keys: [...identity.idp.publicJwks().keys, testJwk] }) };
    const authn = await createAuthnComponent(platform, { identity: idp });
    gw = await startGateway(input, { extensions: [identity.extension, authn.extension, approvalsExtension(platform, { authenticate: authn.authn.stage })] });
    port = Number(new URL(gw.url).port);
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
    await bus?.close();
    await store?.close();
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an approver whose login had no second factor cannot approve a step-up route\'s request (401 step-up challenge; attack: password-only approval), and can with one', async () => {
    const held = await call('POST', '/payouts/1', await token('alice', ['pwd', 'otp']));
    assert.equal(held.status, 403, held.body);
    const id = code(held).approvalId!;
    const weak = await call('POST', `/_gatehouse/approvals/${id}/approve`, await token('bob', ['pwd']));
    assert.equal(weak.status, 401, weak.body);
    assert.equal(code(weak).code, 'ERR_AUTHN_STEP_UP_REQUIRED');
    const row = await store.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'pending', 'nothing decided');
    const strong = await call('POST', `/_gatehouse/approvals/${id}/approve`, await token('bob', ['pwd', 'otp']));
    assert.equal(strong.status, 200, strong.body);
  });
});
