/**
 * A WebSocket tunnel is authorized at its handshake and then carries bytes for as long as
 * both sides keep it busy. Before, a tunnel opened with an API token, a token or a session
 * stayed open after the credential was revoked, the account disabled or the subject blocked
 * — the attacker whose token was revoked kept the channel it had already opened. Each case
 * here opens a real tunnel through a composed gateway (real IdP, store, detection) to a real
 * upstream, keeps it busy, ends the credential the way an operator does, and expects both
 * sides closed — and a tunnel of another credential left open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import type { IdentityProvider } from '../../src/identity/identity-provider.ts';
import { userAdd, userDisable } from '../../src/identity/commands/user.ts';
import { tokenCreate, tokenRevoke } from '../../src/identity/commands/token.ts';
import { addBlock } from '../../src/detect/blocks.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { TunnelRegistry } from '../../src/gateway/upstream/tunnels.ts';
import type { Identity } from '../../src/gateway/context.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { openWebSocketTunnel, startEchoWebSocketUpstream, waitFor, type EchoUpstream, type OpenTunnel } from '../support/websocket-tunnel.ts';

describe('WebSocket tunnels end with the credential that opened them', () => {
  let upstream: EchoUpstream;
  let gw: TestGateway;
  let idp: IdentityProvider;
  let store: Store;

  before(async () => {
    upstream = await startEchoWebSocketUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      detect: { blockRefreshMs: 500 },
      upstreams: { ws: { url: upstream.url } },
      routes: [{ id: 'ws', path: '/ws', upstream: 'ws', access: 'authenticated', websocket: true }],
    }, { compose: true });
    idp = identityProviderOf(gw.gateway.extensions)!;
    store = await openStoreFromConfig(gw.gateway.config);
  });

  after(async () => {
    upstream.close();
    await store.close();
    await gw.close();
  });

  async function user(name: string): Promise<{ id: string; token: string; tokenId: string }> {
    const { id } = await userAdd(idp, { username: name, roles: ['member'] });
    const created = await tokenCreate(idp, { owner: name, name: 'ws' });
    return { id, token: created.token, tokenId: created.tokenId };
  }

  // The tunnel carries traffic (it echoed): no idle timeout is what closes it.
  const openTunnel = (token: string): Promise<OpenTunnel> => openWebSocketTunnel(gw.gateway.addresses().https.port, upstream, '/ws', {
    origin: new URL(gw.gateway.config.publicUrl!).origin, authorization: `Bearer ${token}`,
  });

  async function assertClosed(t: OpenTunnel, what: string): Promise<void> {
    assert.ok(await waitFor(() => t.clientClosed() && t.upstreamClosed(), 5000), `${what}: tunnel still open (client closed ${t.clientClosed()}, upstream closed ${t.upstreamClosed()})`);
  }

  it('revoking the API token that opened a tunnel closes it on both sides; another token\'s tunnel stays open (attack: keeping a channel opened with a token since revoked)', async () => {
    const alice = await user('alice');
    const carol = await user('carol');
    const revoked = await openTunnel(alice.token);
    const other = await openTunnel(carol.token);
    await tokenRevoke(idp, alice.tokenId);
    await assertClosed(revoked, 'after the token was revoked');
    assert.equal(other.clientClosed(), false, 'another token\'s tunnel was closed');
    other.client.destroy();
  });

  it('disabling the account closes its tunnels (attack: a disabled employee\'s open session)', async () => {
    const bob = await user('bob');
    const t = await openTunnel(bob.token);
    await userDisable(idp, 'bob');
    await assertClosed(t, 'after the account was disabled');
  });

  it('a block of the subject by detection or an admin closes its open tunnels (attack: a blocked attacker\'s channel outliving the block)', async () => {
    const dave = await user('dave');
    const t = await openTunnel(dave.token);
    // Stored without the bus, as another instance's block would be missed: the store re-read finds it.
    await addBlock(store, undefined, { kind: 'subject', value: dave.id, durationMs: 60_000, reason: 'test', createdBy: 'admin:test' });
    await assertClosed(t, 'after the subject was blocked');
  });
});

describe('TunnelRegistry', () => {
  const identity = (expiresAt: number | undefined): Identity => ({
    subject: 'usr_1', kind: 'user', roles: [], method: 'jwt', amr: [], authTime: undefined, mfaTime: undefined, credentialId: 'j1', issuer: 'https://idp', attributes: {}, expiresAt,
  });
  const open = (registry: TunnelRegistry, expiresAt: number | undefined, closed: string[]) =>
    registry.add({ identity: identity(expiresAt), clientAddress: '192.0.2.1', routeId: 'ws', requestId: 'r', clientSocket: undefined }, (reason) => closed.push(reason));

  it('closes a tunnel when the credential that opened it expires (a token\'s exp, a session\'s end), not before', async () => {
    const registry = new TunnelRegistry();
    const closed: string[] = [];
    open(registry, Date.now() + 300, closed);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(closed, []);
    assert.ok(await waitFor(() => closed.length === 1, 2000));
    assert.deepEqual(closed, ['credential expired']);
    assert.equal(registry.size, 0);
  });

  it('a credential already expired at the switch closes the tunnel at once; one without expiry is left to the other checks; an unregistered tunnel is never closed by the registry', async () => {
    const registry = new TunnelRegistry();
    const closed: string[] = [];
    open(registry, Date.now() - 1, closed);
    open(registry, undefined, closed);
    const unregister = open(registry, Date.now() + 50, closed);
    unregister();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(closed, ['credential expired']);
    assert.equal(registry.size, 1);
    assert.equal(registry.closeWhere((t) => t.identity?.subject === 'usr_1', 'principal changed'), 1);
    assert.deepEqual(closed, ['credential expired', 'principal changed']);
  });
});

