/**
 * Gatehouse's identity provider issues opaque access tokens: the usual browser code flow asks
 * for no resource indicator, and its access token (43 random characters, the provider's own
 * format) is good at userinfo, where it reads the user's profile and roles; refresh tokens are
 * opaque too. A client that sends one to a public route (an SDK or CLI with one base URL that
 * adds its token to every request) handed it to the public upstream, which could replay it:
 * only API tokens and the provider's JWTs were recognised by their shape. These tokens have no
 * shape of their own, so the gateway asks the provider's store whether it issued the value.
 * Everything runs in one real, composed Gatehouse over real TLS, with openid-client as the
 * relying party.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { OpaqueTokenRecognizer } from '../../src/identity/oidc/opaque-tokens.ts';
import type { KvRepo } from '../../src/store/repos/kv-repo.ts';
import { Browser } from '../identity/support/browser.ts';
import { followToCallback, PASSWORD, REDIRECT, startAuth, submitLogin } from '../identity/support/flows.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from '../identity/support/gateway-idp.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';

describe('opaque tokens of Gatehouse\'s identity provider on a public route', () => {
  let upstream: TestUpstream;
  let gw: IdpGateway;
  let tokens: oidc.TokenEndpointResponse;

  before(async () => {
    upstream = await startUpstream();
    gw = await startIdpGateway({
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'site', path: '/site', upstream: 'app', access: 'public' }],
    });
    const idp = identityProviderOf(gw.gw.gateway.extensions)!;
    await idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['member'] });
    const { secret } = await idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    const config = await discover(gw, 'webapp', secret!);
    // No resource indicator: the code flow as relying parties usually run it.
    const start = await startAuth(gw, config, 'openid profile offline_access', new Browser(gw.fetch));
    const callback = await followToCallback(gw, start, (await submitLogin(gw, start, 'alice', PASSWORD)).location);
    tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const received = () => upstream.received.at(-1)!.headers;
  const atSite = (authorization: string) => gw.fetch(`${PUBLIC_URL}/site/page`, { headers: { authorization } }).then(async (r) => ({ status: r.status, body: await r.text() }));

  it('the provider issues an opaque access token without a resource indicator, good at userinfo (what a public upstream could replay it for)', async () => {
    assert.match(tokens.access_token, /^[A-Za-z0-9_-]{43}$/, 'not an opaque token: the premise of this suite is gone');
    const me = await gw.fetch(`${PUBLIC_URL}/oidc/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json() as { preferred_username?: string }).preferred_username, 'alice');
  });

  it('an opaque access token of Gatehouse\'s identity provider sent to a public route never reaches its upstream, in any letter case of the scheme (attack: a public upstream replaying it at userinfo)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'DPoP']) {
      const r = await atSite(`${scheme} ${tokens.access_token}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(received().authorization, undefined, `${scheme}: the opaque access token reached the public upstream`);
    }
    // Still good where it is meant to be used.
    assert.equal((await gw.fetch(`${PUBLIC_URL}/oidc/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200);
  });

  it('a refresh token of Gatehouse\'s identity provider sent as a bearer to a public route never reaches its upstream (attack: a public upstream redeeming it)', async () => {
    assert.ok(tokens.refresh_token);
    const r = await atSite(`Bearer ${tokens.refresh_token}`);
    assert.equal(r.status, 200, r.body);
    assert.equal(received().authorization, undefined, 'the refresh token reached the public upstream');
  });

  it('a bearer value of the same shape that the provider never issued is the upstream\'s own and passes unchanged', async () => {
    for (const value of [`Bearer ${'A'.repeat(43)}`, `Bearer ${Buffer.alloc(32, 7).toString('base64url')}`, 'Bearer upstream-session-123']) {
      const r = await atSite(value);
      assert.equal(r.status, 200, r.body);
      assert.equal(received().authorization, value);
    }
  });

  it('while the provider\'s store cannot be read, a bearer value of the opaque shape is removed, not forwarded unchecked (fail closed)', async () => {
    const idp = identityProviderOf(gw.gw.gateway.extensions)!;
    const original = idp.issuedOpaqueToken;
    (idp as { issuedOpaqueToken: typeof original }).issuedOpaqueToken = (token) => (/^[A-Za-z0-9_-]{43}$/.test(token) ? Promise.reject(new Error('store unreachable')) : false);
    try {
      const r = await atSite(`Bearer ${Buffer.alloc(32, 9).toString('base64url')}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(received().authorization, undefined);
      // A value of another shape is not asked about and passes.
      await atSite('Bearer upstream-session-456');
      assert.equal(received().authorization, 'Bearer upstream-session-456');
    } finally {
      (idp as { issuedOpaqueToken: typeof original }).issuedOpaqueToken = original;
    }
  });
});

describe('OpaqueTokenRecognizer', () => {
  const issued = Buffer.alloc(32, 1).toString('base64url');
  function recognizer(options: { maxRemembered?: number } = {}) {
    const asked: string[] = [];
    const holds = (namespace: string, id: string) => namespace === 'oidc:RefreshToken' && id === issued;
    // Counts one read per query, whatever it asks for.
    const kv = {
      async find(namespace: string, id: string) {
        asked.push(`${namespace} ${id}`);
        return holds(namespace, id) ? { id, payload: {}, expiresAt: null } : undefined;
      },
      async exists(namespaces: readonly string[], id: string) {
        asked.push(`${[...namespaces].sort().join(',')} ${id}`);
        return namespaces.some((namespace) => holds(namespace, id));
      },
    } as unknown as KvRepo;
    return { asked, tokens: new OpaqueTokenRecognizer(kv, options) };
  }

  it('asks the store about access and refresh tokens of the opaque shape only, in one read', async () => {
    const { asked, tokens } = recognizer();
    for (const value of ['', 'ghs_x', 'a.b.c', 'A'.repeat(42), 'A'.repeat(44), `${'A'.repeat(42)}=`]) assert.equal(tokens.issued(value), false, value);
    assert.deepEqual(asked, []);
    assert.equal(await tokens.issued(issued), true);
    assert.deepEqual(asked, [`oidc:AccessToken,oidc:RefreshToken ${issued}`]);
  });

  it('remembers a value the provider never issued (an upstream\'s own token, sent with every request), and asks again about one it did issue', async () => {
    const { asked, tokens } = recognizer();
    const foreign = Buffer.alloc(32, 2).toString('base64url');
    assert.equal(await tokens.issued(foreign), false);
    assert.equal(tokens.issued(foreign), false, 'asked the store again');
    assert.equal(await tokens.issued(issued), true);
    assert.equal(await tokens.issued(issued), true);
    assert.equal(asked.length, 1 + 2);
  });

  it('a stream of fresh random values (an attacker\'s, one request each) does not evict an upstream\'s own token in use: it costs no store read again', async () => {
    const { asked, tokens } = recognizer({ maxRemembered: 4 });
    const foreign = Buffer.alloc(32, 3).toString('base64url');
    const random = (i: number) => Buffer.from(`fresh-random-value-${i}`.padEnd(32, '.')).toString('base64url');
    assert.equal(await tokens.issued(foreign), false);
    for (let i = 0; i < 40; i++) {
      assert.equal(await tokens.issued(random(i)), false);
      assert.equal(tokens.issued(foreign), false, `request ${i}: the upstream's token was forgotten and looked up again`);
    }
    assert.equal(asked.filter((a) => a.endsWith(foreign)).length, 1);
  });

  it('a remembered value is still forgotten ten minutes after its lookup, however often it is sent meanwhile', async () => {
    const asked: string[] = [];
    const kv = {
      async find(namespace: string, id: string) { asked.push(`${namespace} ${id}`); return undefined; },
      async exists(namespaces: readonly string[], id: string) { asked.push(`${namespaces.join(',')} ${id}`); return false; },
    } as unknown as KvRepo;
    let t = 1_000_000;
    const tokens = new OpaqueTokenRecognizer(kv, { now: () => t });
    const foreign = Buffer.alloc(32, 4).toString('base64url');
    assert.equal(await tokens.issued(foreign), false);
    for (; t < 1_000_000 + 10 * 60_000 - 1000; t += 60_000) assert.equal(tokens.issued(foreign), false);
    t = 1_000_000 + 10 * 60_000;
    assert.equal(await tokens.issued(foreign), false);
    assert.equal(asked.length, 2, 'looked up once, then once more after ten minutes');
  });

  it('one value sent by many requests at once (an attacker\'s flood) costs one store read, not one per request', async () => {
    const { asked, tokens } = recognizer();
    const value = Buffer.alloc(32, 5).toString('base64url');
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => tokens.issued(value)));
    assert.ok(verdicts.every((v) => v === false));
    assert.equal(asked.length, 1);
  });

  it('a store failure reaches every request waiting on the lookup (each removes the header), and the next request asks again', async () => {
    let reads = 0;
    const kv = { async exists() { reads++; throw new Error('store unreachable'); }, async find() { reads++; throw new Error('store unreachable'); } } as unknown as KvRepo;
    const tokens = new OpaqueTokenRecognizer(kv);
    const value = Buffer.alloc(32, 6).toString('base64url');
    const outcomes = await Promise.allSettled([tokens.issued(value), tokens.issued(value)]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
    await assert.rejects(Promise.resolve(tokens.issued(value)));
    assert.ok(reads >= 2, 'a failed lookup was remembered');
  });
});
