/**
 * A WebSocket tunnel is authorized at its handshake, under the configuration and policies of
 * that moment. Before, a reload that made the route private, denied the client's addresses or
 * tightened the route's policy left every tunnel opened before it running: the attacker kept
 * the channel the new rules would refuse. Each case opens real tunnels through a composed
 * gateway to a real upstream, keeps them busy, changes the configuration or a policy file and
 * reloads, and expects the tunnels the change concerns closed on both sides — and the others,
 * and every tunnel after a reload that changes nothing they depend on, left open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { userAdd } from '../../src/identity/commands/user.ts';
import { tokenCreate } from '../../src/identity/commands/token.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { openWebSocketTunnel, startEchoWebSocketUpstream, waitFor, type EchoUpstream, type OpenTunnel } from '../support/websocket-tunnel.ts';

const MEMBERS_MAY_CHAT = 'permit (principal in Gatehouse::Role::"member", action, resource == Gatehouse::Route::"chat");\n';
const ADMINS_MAY_CHAT = 'permit (principal in Gatehouse::Role::"admin", action, resource == Gatehouse::Route::"chat");\n';

describe('WebSocket tunnels are judged again when a reload changes what authorized them', () => {
  let upstream: EchoUpstream;
  let gw: TestGateway;
  let policies: string;
  let token = '';
  let config: ConfigInput;

  before(async () => {
    upstream = await startEchoWebSocketUpstream();
    policies = await mkdtemp(join(tmpdir(), 'gatehouse-ws-reload-'));
    await mkdir(policies, { recursive: true });
    await writeFile(join(policies, 'chat.cedar'), MEMBERS_MAY_CHAT);
    config = {
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      upstreams: { ws: { url: upstream.url } },
      policy: { dir: policies },
      routes: [
        { id: 'feed', path: '/feed', upstream: 'ws', access: 'public', websocket: true },
        { id: 'news', path: '/news', upstream: 'ws', access: 'public', websocket: true },
        { id: 'chat', path: '/chat', upstream: 'ws', access: 'policy', policy: 'chat', websocket: true },
      ],
    };
    gw = await startGateway(config, { compose: true });
    const idp = identityProviderOf(gw.gateway.extensions)!;
    await userAdd(idp, { username: 'alice', roles: ['member'] });
    token = (await tokenCreate(idp, { owner: 'alice', name: 'ws' })).token;
  });

  after(async () => {
    upstream.close();
    await gw.close();
    await rm(policies, { recursive: true, force: true });
  });

  const open = (path: string): Promise<OpenTunnel> => openWebSocketTunnel(gw.gateway.addresses().https.port, upstream, path, {
    origin: new URL(gw.gateway.config.publicUrl!).origin, authorization: `Bearer ${token}`,
  });
  const closed = (t: OpenTunnel) => waitFor(() => t.clientClosed() && t.upstreamClosed(), 5000);
  const stillOpen = async (t: OpenTunnel) => !(await waitFor(() => t.clientClosed() || t.upstreamClosed(), 500));

  /** The status of a new WebSocket handshake on `path` (undici does not send upgrades). */
  async function handshakeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
    const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, rejectUnauthorized: false });
    socket.on('error', () => undefined);
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    let data = '';
    socket.on('data', (d: Buffer) => { data += d; });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nOrigin: ${new URL(gw.gateway.config.publicUrl!).origin}\r\n${extra}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
    assert.ok(await waitFor(() => /^HTTP\/1\.1 \d{3}/.test(data), 5000), `no answer: ${data}`);
    socket.destroy();
    return Number(data.slice(9, 12));
  }

  async function reloadWith(next: ConfigInput): Promise<void> {
    config = next;
    await gw.writeConfig({ ...next, publicUrl: gw.gateway.config.publicUrl });
    const r = await gw.gateway.reload();
    assert.equal(r.applied, true, JSON.stringify(r.problems));
  }

  it('a reload that changes nothing a tunnel depends on leaves every tunnel open', async () => {
    const feed = await open('/feed');
    const chat = await open('/chat');
    await reloadWith({ ...config, logging: { level: 'warn' } });
    assert.ok(await stillOpen(feed), 'a public tunnel was closed by an unrelated reload');
    assert.ok(await stillOpen(chat), 'a policy tunnel was closed by an unrelated reload');
    feed.client.destroy();
    chat.client.destroy();
  });

  it('making a public route private closes the tunnels opened on it without credentials, and no other route\'s (attack: keeping a channel the route now refuses)', async () => {
    const feed = await openWebSocketTunnel(gw.gateway.addresses().https.port, upstream, '/feed');
    const news = await openWebSocketTunnel(gw.gateway.addresses().https.port, upstream, '/news');
    await reloadWith({ ...config, routes: config.routes!.map((r) => (r.id === 'feed' ? { ...r, access: 'authenticated' as const } : r)) });
    assert.ok(await closed(feed), 'the tunnel on the route made private is still open');
    assert.ok(await stillOpen(news), 'a tunnel on an unchanged route was closed');
    assert.equal(await handshakeStatus('/feed'), 401, 'a new handshake is judged by the new rules');
    news.client.destroy();
  });

  it('removing a route closes its tunnels', async () => {
    const news = await openWebSocketTunnel(gw.gateway.addresses().https.port, upstream, '/news');
    await reloadWith({ ...config, routes: config.routes!.filter((r) => r.id !== 'news') });
    assert.ok(await closed(news), 'the tunnel of a removed route is still open');
  });

  it('tightening the policy that authorized a tunnel closes it (attack: keeping a channel a revised policy denies)', async () => {
    const chat = await open('/chat');
    const feed = await open('/feed');
    await writeFile(join(policies, 'chat.cedar'), ADMINS_MAY_CHAT);
    // The policy directory is read again at a reload (and by its own watcher, whichever comes first).
    await gw.gateway.reload();
    assert.ok(await closed(chat), 'the tunnel the policy no longer allows is still open');
    assert.ok(await stillOpen(feed), 'a tunnel no policy decided was closed');
    assert.equal(await handshakeStatus('/chat', { authorization: `Bearer ${token}` }), 403, 'a new handshake is denied by the new policy');
    feed.client.destroy();
  });

  it('denying the client\'s addresses in the global IP rules closes its tunnels (attack: keeping a channel from a range just blocked)', async () => {
    const feed = await open('/feed');
    await reloadWith({ ...config, ipRules: { allow: [], deny: ['127.0.0.0/8'] } });
    assert.ok(await closed(feed), 'the tunnel from a denied address is still open');
  });
});
