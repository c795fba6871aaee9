/**
 * `keys rotate --retire-previous`: a signing key that may be compromised is withdrawn at once.
 * An ordinary rotation keeps the previous key verifying until every token it signed has expired
 * (oidc-flows.test.ts); for a leaked key that overlap is the attacker's window. Withdrawn, every
 * earlier key leaves the JWKS, and a token signed with one is refused by the gateway at once —
 * also one the gateway had verified and cached a moment before — and a WebSocket tunnel opened
 * with a Gatehouse token is closed (it makes no more requests to refuse). New tokens work. Real composed
 * Gatehouse (IdP, gateway), real OIDC client (client credentials), SQLite.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { startUpstream, type TestUpstream } from '../support/gateway.ts';
import { openWebSocketTunnel, startEchoWebSocketUpstream, waitFor, type EchoUpstream } from '../support/websocket-tunnel.ts';
import { discover, PUBLIC_URL, startIdpGateway, type IdpGateway } from './support/gateway-idp.ts';

describe('withdrawing the signing keys at once (keys rotate --retire-previous)', () => {
  let upstream: TestUpstream;
  let wsUpstream: EchoUpstream;
  let gw: IdpGateway;
  let secret: string;

  before(async () => {
    upstream = await startUpstream();
    wsUpstream = await startEchoWebSocketUpstream();
    gw = await startIdpGateway({
      pki: { enabled: false },
      upstreams: { app: { url: upstream.url }, ws: { url: wsUpstream.url } },
      routes: [
        { id: 'api', path: '/api', upstream: 'app', access: 'authenticated', authentication: { methods: ['jwt'] } },
        { id: 'ws', path: '/ws', upstream: 'ws', access: 'authenticated', authentication: { methods: ['jwt'] }, websocket: true },
      ],
    });
    secret = (await gw.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] })).secret!;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await wsUpstream?.close();
  });

  async function atGateway(token: string): Promise<number | string> {
    const res = await gw.fetch(`${PUBLIC_URL}/api/ledger`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    return res.status === 200 ? 200 : (JSON.parse(body) as { error: { code: string } }).error.code;
  }
  const serviceToken = async () => (await oidc.clientCredentialsGrant(await discover(gw, 'billing', secret), { resource: PUBLIC_URL })).access_token;
  const publishedKids = async () => ((await (await gw.fetch(`${PUBLIC_URL}/oidc/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

  it('a token signed with a withdrawn key is refused at once, even one the gateway had just verified and cached; the JWKS holds only the new key', async () => {
    const idp = identityProviderOf(gw.gw.gateway.extensions)!;
    // Two keys in the JWKS first: one retiring from an ordinary rotation, one active.
    const older = await serviceToken();
    const tunnel = await openWebSocketTunnel(gw.gw.gateway.addresses().https.port, wsUpstream, '/ws', { origin: PUBLIC_URL, authorization: `Bearer ${older}` });
    await idp.rotateKeys();
    const leaked = await serviceToken();
    assert.equal(tunnel.clientClosed(), false, 'control: an ordinary rotation leaves the tunnel open');
    assert.equal(await atGateway(older), 200, 'control: an ordinary rotation keeps the previous key verifying');
    assert.equal(await atGateway(leaked), 200, 'control: verified, and now cached by the gateway');
    assert.equal((await publishedKids()).length, 2);

    const { kid } = await idp.rotateKeys(undefined, { retirePrevious: true });
    assert.deepEqual(await publishedKids(), [kid], 'every earlier key left the JWKS');
    assert.equal(await atGateway(leaked), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN', 'the cached token of the withdrawn key');
    assert.equal(await atGateway(older), 'ERR_AUTHN_TOKEN_KEY_UNKNOWN', 'a token of a key that was already retiring');
    assert.ok(await waitFor(() => tunnel.clientClosed() && tunnel.upstreamClosed(), 5000), 'the tunnel opened with a token of a withdrawn key is closed on both sides');

    const fresh = await serviceToken();
    assert.equal(decodeProtectedHeader(fresh).kid, kid);
    assert.equal(await atGateway(fresh), 200, 'new tokens work');
  });
});
