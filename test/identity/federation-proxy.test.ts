/**
 * Federation behind an HTTP egress proxy (`identity.federation.<name>.proxy`): every connection
 * for the provider is a CONNECT tunnel through the proxy, to the address Gatehouse resolved and
 * judged (never to the name, which the proxy would resolve its own way), so the address guard
 * holds behind a proxy too. A proxy that refuses fails the sign-in without its credentials
 * reaching the page or the log.
 *
 * The providers run on 127.0.0.1 (listed) and are named `localhost` in their issuer, so that a
 * CONNECT to the name would show; "the internal network" is a server on 127.0.0.2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type * as oidc from 'openid-client';
import pino from 'pino';
import { selfSignedCert, startHarness, type Harness } from './support/harness.ts';
import { REDIRECT, rpConfig } from './support/flows.ts';
import { startFakeOp, type FakeOp } from './support/fake-op.ts';
import { fakeProviderConfig, federatedSignIn } from './support/federated-sign-in.ts';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.ts';

const PROXY_USER = 'svc-gatehouse';
const PROXY_PASSWORD = 'Pr0xy-hunter2-secret';

describe('federation through an HTTP egress proxy', () => {
  let internal: Server;
  let internalConnections = 0;
  let op: FakeOp;
  let tokenOp: FakeOp;
  let proxy: ConnectProxy;
  let refusing: ConnectProxy;
  let forbidding: ConnectProxy;
  let h: Harness;
  let config: oidc.Configuration;
  const logLines: string[] = [];

  before(async () => {
    const { key, cert } = selfSignedCert();
    internal = createServer({ key, cert }, (_req, res) => { res.writeHead(404).end(); });
    internal.on('connection', () => { internalConnections += 1; });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.2', resolve));
    op = await startFakeOp({}, { host: 'localhost' });
    tokenOp = await startFakeOp({ token_endpoint: `https://127.0.0.2:${(internal.address() as AddressInfo).port}/latest/meta-data/token` }, { host: 'localhost' });
    proxy = await startConnectProxy();
    refusing = await startConnectProxy({ kind: 'refuse', status: 407 });
    forbidding = await startConnectProxy({ kind: 'refuse', status: 403 });
    const withCredentials = (p: ConnectProxy) => p.url.replace('http://', `http://${PROXY_USER}:${PROXY_PASSWORD}@`);
    const logger = pino({ level: 'info' }, { write: (line: string) => { logLines.push(line); } });
    h = await startHarness('sqlite', {
      federation: {
        ext: fakeProviderConfig(op.issuer, { proxy: withCredentials(proxy) }),
        token: fakeProviderConfig(tokenOp.issuer, { proxy: proxy.url }),
        refused: fakeProviderConfig(op.issuer, { proxy: withCredentials(refusing) }),
        forbidden: fakeProviderConfig(op.issuer, { proxy: withCredentials(forbidding) }),
      },
    }, logger);
    const app = await h.idp.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] });
    config = await rpConfig(h, 'webapp', app.secret!);
  });
  after(async () => {
    await h?.close();
    await Promise.all([op?.close(), tokenOp?.close(), proxy?.close(), refusing?.close(), forbidding?.close()]);
    internal?.closeAllConnections();
    await new Promise<void>((resolve) => internal ? internal.close(() => resolve()) : resolve());
  });

  const signIn = (provider: string, fake: FakeOp, email: string) =>
    federatedSignIn(h, config, fake, { provider, sub: `sub-${email}`, claims: { email, email_verified: true, groups: [] } });

  it('a sign-in through a provider with `proxy` works end to end; every connection (discovery, keys, token) is a CONNECT to the address Gatehouse judged, 127.0.0.1, never to the name localhost, with Proxy-Authorization', async () => {
    proxy.requests.length = 0;
    op.requests.length = 0;
    const r = await signIn('ext', op, 'proxied@example.com');
    assert.ok(r.location?.startsWith(REDIRECT), `${r.status} ${r.body.slice(0, 300)}`);
    assert.ok(await h.idp.accounts.findUser('proxied@example.com'));
    const port = new URL(op.issuer).port;
    assert.ok(proxy.requests.length > 0, 'the proxy was not used');
    assert.deepEqual([...new Set(proxy.requests.map((c) => c.target))], [`127.0.0.1:${port}`]);
    assert.ok(proxy.requests.every((c) => c.headers['proxy-authorization'] === `Basic ${Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')}`));
    for (const path of ['/.well-known/openid-configuration', '/jwks', '/token']) assert.ok(op.requests.includes(path), `${path} not reached: ${op.requests.join(', ')}`);
  });

  it('SSRF behind the proxy: a token endpoint on an unlisted private address is refused before the proxy is asked to CONNECT there; the code and client secret never leave, ERR_IDENTITY_FEDERATION_FAILED', async () => {
    proxy.requests.length = 0;
    internalConnections = 0;
    const r = await signIn('token', tokenOp, 'ssrf@example.com');
    assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
    assert.equal(r.location, undefined);
    assert.ok(proxy.requests.some((c) => c.target === `127.0.0.1:${new URL(tokenOp.issuer).port}`), 'discovery went through the proxy');
    assert.deepEqual(proxy.requests.filter((c) => c.target.startsWith('127.0.0.2')), []);
    assert.equal(internalConnections, 0);
    assert.equal(await h.idp.accounts.findUser('ssrf@example.com'), undefined);
  });

  for (const [provider, status] of [['refused', 407], ['forbidden', 403]] as const) {
    it(`a proxy refusing CONNECT with ${status}: ERR_IDENTITY_FEDERATION_FAILED; the log names the status and the proxy, and neither the page nor the log carries the proxy's user name or password`, async () => {
      logLines.length = 0;
      const r = await signIn(provider, op, `${provider}@example.com`);
      assert.match(r.body, /ERR_IDENTITY_FEDERATION_FAILED/);
      assert.equal(r.location, undefined);
      const log = logLines.join('\n');
      assert.match(log, new RegExp(`proxy http://127\\.0\\.0\\.1:\\d+: the proxy answered ${status}`), log);
      for (const secret of [PROXY_USER, PROXY_PASSWORD, Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')]) {
        assert.ok(!log.includes(secret), `the log holds ${secret}: ${log}`);
        assert.ok(!r.body.includes(secret), `the page holds ${secret}`);
      }
    });
  }
});
