/**
 * A WebSocket tunnel opened with a client certificate: requests on a kept-alive connection
 * verify the certificate again when a new CRL arrives, but a tunnel makes no more requests, so
 * a certificate revoked while its tunnel was open kept the tunnel. It is now verified again on
 * every trust change and the tunnel closed on both sides once the CRL that revokes it is in
 * force; a tunnel of a certificate still valid stays open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { openWebSocketTunnel, startEchoWebSocketUpstream, waitFor, type EchoUpstream, type OpenTunnel } from '../support/websocket-tunnel.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { openPkiCommandContext, openAuthority } from '../../src/pki/commands/context.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import type { Store } from '../../src/store/types.ts';

const TD = 'gatehouse.internal';

describe('WebSocket tunnels opened with a client certificate', () => {
  let upstream: EchoUpstream;
  let gw: TestGateway;
  let store: Store;
  let ca: CertificateAuthority;

  before(async () => {
    upstream = await startEchoWebSocketUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      pki: { crl: { refreshIntervalSeconds: 1 } },
      upstreams: { ws: { url: upstream.url } },
      routes: [{ id: 'ws', path: '/ws', upstream: 'ws', access: 'authenticated', websocket: true, authentication: { methods: ['mtls'] } }],
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    ca = await openAuthority(await openPkiCommandContext({ store, config: gw.gateway.config }));
  });

  after(async () => {
    upstream.close();
    await store.close();
    await gw.close();
  });

  async function openTunnel(name: string): Promise<OpenTunnel & { serial: string }> {
    const id = `spiffe://${TD}/svc/${name}`;
    const { keyPem, csrPem } = await generateKeyAndCsr(id);
    const issued = await ca.issue({ csr: csrPem, spiffeId: id });
    const tunnel = await openWebSocketTunnel(gw.gateway.addresses().https.port, upstream, '/ws', {}, { cert: issued.chainPem, key: keyPem });
    return { ...tunnel, serial: issued.serial };
  }

  it('revoking the certificate that opened a tunnel closes it on both sides once the CRL is refreshed; another certificate\'s tunnel stays open (attack: a compromised workload key keeping its open channel)', async () => {
    const revoked = await openTunnel('reporting');
    const other = await openTunnel('billing');
    await ca.revoke({ serial: revoked.serial }, 'keyCompromise');
    // Keep the tunnel busy: only the revocation can close it.
    const busy = setInterval(() => { if (!revoked.clientClosed()) revoked.client.write('.'); }, 200);
    try {
      assert.ok(await waitFor(() => revoked.clientClosed() && revoked.upstreamClosed(), 15_000), `tunnel still open 15 s after revocation (client closed ${revoked.clientClosed()}, upstream closed ${revoked.upstreamClosed()})`);
    } finally {
      clearInterval(busy);
    }
    assert.equal(other.clientClosed(), false, 'a valid certificate\'s tunnel was closed');
    other.client.destroy();
  });
});
