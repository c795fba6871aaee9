/**
 * The access matrix, end to end through a real gateway: real identity provider (users,
 * service accounts, API tokens, client-credentials JWTs), a real external issuer (JWKS over
 * HTTPS), real Cedar policy files, and the upstream checking the signed identity assertion
 * with the SDK. Every route × every identity class has an expected status; any unexpected
 * allow or deny fails, and the test prints how many cells it checked.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { request } from 'undici';
import { startGateway, startUpstream, insecureAgent, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { ensureDevCertificate } from '../../src/gateway/tls/dev-certificate.ts';
import { createAssertionVerifier } from '../../src/sdk/index.ts';

const PUBLIC_URL = 'https://gatehouse.test';
const EXTERNAL = 'https://external.test';
const ROUTES = ['public', 'any', 'docs', 'admin', 'orders'] as const;
type RouteId = typeof ROUTES[number];

const POLICIES = `
@id("editors-read-docs")
permit (principal in Gatehouse::Role::"editor", action in Gatehouse::Action::"read", resource == Gatehouse::Route::"docs");

@id("admins-everything")
permit (principal in Gatehouse::Role::"admin", action, resource);

@id("svc-a-reads-orders")
permit (principal == Gatehouse::Service::"svc-a", action == Gatehouse::Action::"GET", resource == Gatehouse::Route::"orders");
`;

interface IdentityClass {
  name: string;
  method: 'GET' | 'POST';
  /** Authorization header value, or undefined for anonymous. */
  credential: string | undefined;
  /** Expected status per route. */
  expect: Record<RouteId, number>;
  /** Subject the upstream must see in the assertion when allowed on a non-public route. */
  subject?: string;
}

const row = (pub: number, any: number, docs: number, admin: number, orders: number): Record<RouteId, number> => ({ public: pub, any, docs, admin, orders });

describe('access matrix through the gateway', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let jwksServer: Server;
  let externalKey: CryptoKey;
  let dir: string;
  const classes: IdentityClass[] = [];

  async function clientCredentials(clientId: string, secret: string, resource?: string): Promise<string> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', ...(resource ? { resource } : {}) });
    const res = await request(`${gw.url}/oidc/token`, {
      method: 'POST', dispatcher: insecureAgent, body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    });
    const json = await res.body.json() as { access_token?: string; error?: string };
    assert.equal(res.statusCode, 200, `client credentials for ${clientId}: ${JSON.stringify(json)}`);
    return json.access_token!;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-matrix-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'main.cedar'), POLICIES);
    // The external issuer: a JWKS served over HTTPS with its own certificate.
    const tls = await ensureDevCertificate(join(dir, 'external'));
    await writeFile(join(dir, 'external-ca.pem'), tls.cert);
    const keys = await generateKeyPair('ES256');
    externalKey = keys.privateKey;
    const jwk = { ...await exportJWK(keys.publicKey), kid: 'ext-1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));

    app = await startUpstream();
    gw = await startGateway({
      publicUrl: PUBLIC_URL,
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      identity: { resources: ['https://other.test'] },
      authn: {
        issuers: [{
          issuer: EXTERNAL, algorithms: ['ES256'], principals: 'claims', kind: 'user',
          keys: { type: 'jwks', url: `https://localhost:${(jwksServer.address() as AddressInfo).port}/jwks`, caFile: join(dir, 'external-ca.pem') },
        }],
      },
      policy: { dir: join(dir, 'policies') },
      upstreams: { app: { url: app.url } },
      routes: [
        { id: 'public', path: '/public', upstream: 'app', access: 'public' },
        { id: 'any', path: '/any', upstream: 'app', access: 'authenticated' },
        { id: 'docs', path: '/docs', upstream: 'app', policy: 'main' },
        { id: 'admin', path: '/admin', upstream: 'app', policy: 'main' },
        { id: 'orders', path: '/orders', upstream: 'app', policy: 'main' },
      ],
    }, { compose: true });

    const idp = identityProviderOf(gw.gateway.extensions)!;
    const bob = await idp.accounts.addUser({ username: 'bob', password: 'correct horse battery staple 1', roles: [] });
    const alice = await idp.accounts.addUser({ username: 'alice', password: 'correct horse battery staple 2', roles: ['editor'] });
    const root = await idp.accounts.addUser({ username: 'root', password: 'correct horse battery staple 3', roles: ['admin'] });
    const token = async (owner: string, roles: string[]) => (await idp.apiTokens.create({ ownerSubject: owner, name: `t-${Math.random()}`, roles })).token;
    const bobToken = await token(bob.id, []);
    const aliceToken = await token(alice.id, ['editor']);
    const rootToken = await token(root.id, ['admin']);
    const revoked = await idp.apiTokens.create({ ownerSubject: alice.id, name: 'to-revoke', roles: ['editor'] });
    await idp.apiTokens.revoke(revoked.tokenId);

    const a = await idp.accounts.addClient({ clientId: 'svc-a', kind: 'service', roles: [] });
    const b = await idp.accounts.addClient({ clientId: 'svc-b', kind: 'service', roles: [] });
    const svcA = await clientCredentials('svc-a', a.secret!);
    const svcB = await clientCredentials('svc-b', b.secret!);
    const otherAudience = await clientCredentials('svc-a', a.secret!, 'https://other.test');
    const expired = await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'ES256', kid: 'ext-1' })
      .setIssuer(EXTERNAL).setSubject('mallory').setAudience(PUBLIC_URL)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(externalKey);
    const externalEditor = await new SignJWT({ roles: ['editor'] }).setProtectedHeader({ alg: 'ES256', kid: 'ext-1' })
      .setIssuer(EXTERNAL).setSubject('carol').setAudience(PUBLIC_URL).setIssuedAt().setExpirationTime('5m').sign(externalKey);

    const bearer = (t: string) => `Bearer ${t}`;
    classes.push(
      { name: 'anonymous', method: 'GET', credential: undefined, expect: row(200, 401, 401, 401, 401) },
      { name: 'user without the role (API token)', method: 'GET', credential: bearer(bobToken), expect: row(200, 200, 403, 403, 403), subject: bob.id },
      { name: 'user with the role (API token)', method: 'GET', credential: bearer(aliceToken), expect: row(200, 200, 200, 403, 403), subject: alice.id },
      { name: 'user with the role (external issuer JWT)', method: 'GET', credential: bearer(externalEditor), expect: row(200, 200, 200, 403, 403), subject: `${EXTERNAL}#carol` },
      { name: 'admin', method: 'GET', credential: bearer(rootToken), expect: row(200, 200, 200, 200, 200), subject: root.id },
      { name: 'service A (client credentials JWT)', method: 'GET', credential: bearer(svcA), expect: row(200, 200, 403, 403, 200), subject: 'svc-a' },
      { name: 'service B (client credentials JWT)', method: 'GET', credential: bearer(svcB), expect: row(200, 200, 403, 403, 403), subject: 'svc-b' },
      { name: 'expired token (claims admin)', method: 'GET', credential: bearer(expired), expect: row(200, 401, 401, 401, 401) },
      { name: 'revoked token', method: 'GET', credential: bearer(revoked.token), expect: row(200, 401, 401, 401, 401) },
      { name: 'token for another audience', method: 'GET', credential: bearer(otherAudience), expect: row(200, 401, 401, 401, 401) },
      { name: 'valid token, right user, wrong method', method: 'POST', credential: bearer(aliceToken), expect: row(200, 200, 403, 403, 403), subject: alice.id },
      { name: 'service A on the wrong method', method: 'POST', credential: bearer(svcA), expect: row(200, 200, 403, 403, 403), subject: 'svc-a' },
    );
  });

  after(async () => {
    await gw?.close();
    await app?.close();
    jwksServer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every route × identity class gets exactly the expected decision, and allowed requests carry a verifiable assertion for the right subject', async () => {
    // The upstream's view: Gatehouse's published assertion keys (fetched here past the self-signed certificate).
    const jwks = JSON.parse((await gw.fetch('/.well-known/gatehouse/assertion-jwks.json')).body);
    const verifier = createAssertionVerifier({ jwks, issuer: PUBLIC_URL, audience: 'app' });
    const wrong: string[] = [];
    let cells = 0;
    for (const c of classes) {
      for (const route of ROUTES) {
        cells++;
        const seenBefore = app.received.length;
        const res = await gw.fetch(`/${route}/item`, { method: c.method, headers: c.credential ? { authorization: c.credential } : {}, ...(c.method === 'POST' ? { body: '{}' } : {}) });
        const expected = c.expect[route];
        if (res.status !== expected) {
          wrong.push(`${c.name} × ${route}: expected ${expected}, got ${res.status} ${res.body.slice(0, 160)}`);
          continue;
        }
        const reached = app.received.length > seenBefore;
        if ((expected === 200) !== reached) wrong.push(`${c.name} × ${route}: upstream ${reached ? 'reached' : 'not reached'} with status ${res.status}`);
        if (expected === 403) {
          const body = JSON.parse(res.body) as { error: { code: string; decisionId?: string } };
          if (body.error.code !== 'ERR_POLICY_DENIED' || !body.error.decisionId) wrong.push(`${c.name} × ${route}: 403 without ERR_POLICY_DENIED and a decision id`);
        }
        if (expected === 200 && route !== 'public' && reached) {
          const seen = app.received.at(-1)!;
          const assertion = seen.headers['x-gatehouse-identity'];
          if (typeof assertion !== 'string') { wrong.push(`${c.name} × ${route}: no identity assertion upstream`); continue; }
          const identity = await verifier.verify(assertion, { method: c.method, url: seen.url });
          if (identity.subject !== c.subject) wrong.push(`${c.name} × ${route}: assertion subject ${identity.subject}, expected ${c.subject}`);
          if (seen.headers.authorization !== undefined) wrong.push(`${c.name} × ${route}: the client's credential reached the upstream`);
        }
      }
    }
    console.log(`# access matrix: ${cells} cells checked (${classes.length} identity classes × ${ROUTES.length} routes), ${wrong.length} wrong`);
    assert.equal(cells, classes.length * ROUTES.length);
    assert.deepEqual(wrong, []);
  });
});

