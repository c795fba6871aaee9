/**
 * A WebSocket tunnel opened with a client certificate: requests on a kept-alive connection
 * verify the certificate again when a new CRL arrives, but a tunnel makes no more requests, so
 * a certificate revoked while its tunnel was open kept the tunnel. It is now verified again on
 * every trust change and the tunnel closed on both sides once the CRL that revokes it is in
 * force; a tunnel of a certificate still valid stays open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { openPkiCommandContext, openAuthority } from '../../src/pki/commands/context.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import type { Store } from '../../src/store/types.ts';

const TD = 'gatehouse.internal';

describe('WebSocket tunnels opened with a client certificate', () => {
  let upstream: Server;
  const upstreamSockets = new Set<Socket>();
  let gw: TestGateway;
  let store: Store;
  let ca: CertificateAuthority;

  before(async () => {
    upstream = createServer();
    upstream.on('upgrade', (_req, socket: Socket) => {
      upstreamSockets.add(socket);
      socket.on('error', () => undefined);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(d));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      pki: { crl: { refreshIntervalSeconds: 1 } },
      upstreams: { ws: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } },
      routes: [{ id: 'ws', path: '/ws', upstream: 'ws', access: 'authenticated', websocket: true, authentication: { methods: ['mtls'] } }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    ca = await openAuthority(await openPkiCommandContext({ store, config: gw.gateway.config }));
  });

  after(async () => {
    for (const s of upstreamSockets) s.destroy();
    upstream.close();
    await store.close();
    await gw.close();
  });

  async function openTunnel(name: string): Promise<{ serial: string; client: TLSSocket; closed: () => boolean; upstreamClosed: () => boolean }> {
    const id = `spiffe://${TD}/svc/${name}`;
    const { keyPem, csrPem } = await generateKeyAndCsr(id);
    const issued = await ca.issue({ csr: csrPem, spiffeId: id });
    const known = new Set(upstreamSockets);
    const client = tlsConnect({ host: '127.0.0.1', port: gw.gateway.addresses().https.port, cert: issued.chainPem, key: keyPem, rejectUnauthorized: false });
    client.on('error', () => undefined);
    await new Promise<void>((r) => client.once('secureConnect', () => r()));
    let data = '';
    let closed = false;
    client.on('data', (d: Buffer) => { data += d; });
    client.on('close', () => { closed = true; });
    client.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    assert.ok(await waitFor(() => /\r\n\r\n/.test(data), 5000), `no handshake answer: ${data}`);
    assert.match(data, /^HTTP\/1\.1 101/, data);
    const upstreamSocket = [...upstreamSockets].find((s) => !known.has(s))!;
    let upstreamClosed = false;
    upstreamSocket.on('end', () => { upstreamClosed = true; });
    upstreamSocket.on('close', () => { upstreamClosed = true; });
    return { serial: issued.serial, client, closed: () => closed, upstreamClosed: () => upstreamClosed };
  }

  it('revoking the certificate that opened a tunnel closes it on both sides once the CRL is refreshed; another certificate\'s tunnel stays open (attack: a compromised workload key keeping its open channel)', async () => {
    const revoked = await openTunnel('reporting');
    const other = await openTunnel('billing');
    await ca.revoke({ serial: revoked.serial }, 'keyCompromise');
    // Keep the tunnel busy: only the revocation can close it.
    const busy = setInterval(() => { if (!revoked.closed()) revoked.client.write('.'); }, 200);
    try {
      assert.ok(await waitFor(() => revoked.closed() && revoked.upstreamClosed(), 15_000), `tunnel still open 15 s after revocation (client closed ${revoked.closed()}, upstream closed ${revoked.upstreamClosed()})`);
    } finally {
      clearInterval(busy);
    }
    assert.equal(other.closed(), false, 'a valid certificate\'s tunnel was closed');
    other.client.destroy();
  });
});

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return condition();
}
