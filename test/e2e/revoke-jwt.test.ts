/**
 * Revoking a JWT access token by its issuer and jti: `gatehouse token revoke-jwt` (the real CLI, another
 * process) records the revocation; the running gateway refuses the token from then on, even
 * though it had verified and cached it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { request } from 'undici';
import { SignJWT } from 'jose';
import { startGateway, startUpstream, insecureAgent, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';

const root = join(import.meta.dirname, '..', '..');

function gatehouse(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'src/cli/main.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => { out += d; });
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('revoking a JWT access token at the gateway', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let token: string;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      authn: { maintenance: { revocationRefreshMs: 1000 } },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'reports', path: '/reports', upstream: 'app', access: 'authenticated' }],
    }, { compose: true });
    const idp = identityProviderOf(gw.gateway.extensions)!;
    const { secret } = await idp.accounts.addClient({ clientId: 'reporter', kind: 'service', roles: [] });
    const res = await request(`${gw.url}/oidc/token`, {
      method: 'POST', dispatcher: insecureAgent, body: 'grant_type=client_credentials',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`reporter:${secret}`).toString('base64')}` },
    });
    token = ((await res.body.json()) as { access_token: string }).access_token;
  });
  after(async () => { await gw.close(); await app.close(); });

  it('refuses a verified and cached token after `gatehouse token revoke-jwt`, with ERR_AUTHN_TOKEN_REVOKED', async () => {
    const get = () => gw.fetch('/reports/x', { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get()).status, 200);
    assert.equal((await get()).status, 200, 'second request served from the verified-token cache');
    const revoked = await gatehouse(['token', 'revoke-jwt', token, '--config', gw.configFile]);
    assert.equal(revoked.code, 0, revoked.out);
    let res = await get();
    const deadline = Date.now() + 10_000;
    while (res.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      res = await get();
    }
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_AUTHN_TOKEN_REVOKED');
  });

  it('refuses to revoke a JWT that has no jti (it could not be matched) and changes nothing', async () => {
    const noJti = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(32)));
    const r = await gatehouse(['token', 'revoke-jwt', noJti, '--config', gw.configFile]);
    assert.equal(r.code, 1);
    assert.match(r.out, /ERR_ADMIN_INPUT_INVALID/);
    assert.match(r.out, /no jti/);
  });

  it('refuses to revoke a JWT that has no iss (a jti names a token only within its issuer)', async () => {
    const noIss = await new SignJWT({ jti: 'j-1' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(32)));
    const r = await gatehouse(['token', 'revoke-jwt', noIss, '--config', gw.configFile]);
    assert.equal(r.code, 1);
    assert.match(r.out, /ERR_ADMIN_INPUT_INVALID/);
    assert.match(r.out, /no iss/);
  });
});
