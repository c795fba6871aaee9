/**
 * A header listed in `policy.contextHeaders` sent more than once: Node joins the copies into
 * one value for the policy ("evil, acme"), or keeps only the first for the fields it does not
 * join, while the upstream gets every copy — and Go's Header.Get, Java's getHeader and many
 * frameworks read the first. A `forbid` on `context.headers["x-tenant"] == "evil"` was walked
 * around by sending `X-Tenant: evil` and `X-Tenant: acme`: the policy saw "evil, acme", the
 * upstream acted for "evil". The policy and the upstream must read the same one value.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { userAdd } from '../../src/identity/commands/user.ts';
import { tokenCreate } from '../../src/identity/commands/token.ts';
import { insecureAgent, startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const POLICY = [
  '@id("members") permit (principal, action, resource);',
  '@id("no-evil-tenant") forbid (principal, action, resource) when { context has headers && context.headers has "x-tenant" && context.headers["x-tenant"] == "evil" };',
  '@id("no-bad-agent") forbid (principal, action, resource) when { context has headers && context.headers has "user-agent" && context.headers["user-agent"] == "bad" };',
].join('\n');

describe('policy context headers sent more than once', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let dir: string;
  let token = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-context-headers-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'tenants.cedar'), POLICY);
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'tenants', path: '/tenants', upstream: 'app', policy: 'tenants' }],
      policy: { dir: join(dir, 'policies'), contextHeaders: ['x-tenant', 'user-agent'] },
    }, { compose: true });
    const idp = identityProviderOf(gw.gateway.extensions)!;
    await userAdd(idp, { username: 'mallory', roles: [] });
    token = (await tokenCreate(idp, { owner: 'mallory', name: 'test' })).token;
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function send(fields: string[]): Promise<{ status: number; body: string }> {
    const res = await request(`${gw.url}/tenants/1`, { method: 'DELETE', headers: ['authorization', `Bearer ${token}`, ...fields], dispatcher: insecureAgent });
    return { status: res.statusCode, body: await res.body.text() };
  }

  it('the forbid holds for one X-Tenant: evil (403), and allows another tenant', async () => {
    assert.equal((await send(['x-tenant', 'evil'])).status, 403);
    assert.equal((await send(['x-tenant', 'acme'])).status, 200);
  });

  it('X-Tenant: evil and X-Tenant: acme (attack: a repeated context header past a forbid) are refused with 400 ERR_REQUEST_HEADER_INVALID and never reach the upstream', async () => {
    for (const fields of [['x-tenant', 'evil', 'x-tenant', 'acme'], ['x-tenant', 'evil', 'X-Tenant', 'acme'], ['user-agent', 'ok', 'user-agent', 'bad']]) {
      const before = upstream.received.length;
      const r = await send(fields);
      assert.equal(r.status, 400, `${JSON.stringify(fields)}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ERR_REQUEST_HEADER_INVALID');
      assert.equal(upstream.received.length, before, JSON.stringify(fields));
    }
  });
});
