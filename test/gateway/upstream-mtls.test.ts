/**
 * Mutual TLS from the gateway to upstreams, with certificates from Gatehouse's own CA:
 * the upstream's SPIFFE id is checked (not just its chain), and the upstream only talks
 * to the gateway's certificate.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request, Agent } from 'undici';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { openPkiCommandContext, openAuthority } from '../../src/pki/commands/context.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { MtlsServerGuard } from '../../src/pki/mtls/server-guard.ts';
import type { TlsMaterial } from '../../src/pki/mtls/tls-material.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import type { Store } from '../../src/store/types.ts';
import { gatewaySpiffeId } from '../../src/gateway/extensions/pki.ts';

const TD = 'gatehouse.internal';

async function workload(ca: CertificateAuthority, spiffeId: string): Promise<TlsMaterial> {
  const { keyPem, csrPem } = await generateKeyAndCsr(spiffeId);
  const issued = await ca.issue({ csr: csrPem, spiffeId });
  return { keyPem, chainPem: issued.chainPem, spiffeId, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
}

async function mtlsUpstream(ca: CertificateAuthority, spiffeId: string, allowed: string[], refusals: string[], material?: TlsMaterial): Promise<Server> {
  const guard = new MtlsServerGuard({
    material: material ?? await workload(ca, spiffeId), trust: await ca.currentTrust(),
    policy: { allowedSpiffeIds: allowed },
    onEvent: (e) => { if (e.type === 'pki.peer.refused') refusals.push(e.code); },
  });
  const server = createServer(guard.serverOptions(), (req, res) => {
    const peer = guard.peerOf(req.socket as never);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ served: spiffeId, peer: peer?.spiffeId }));
  });
  guard.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

describe('mutual TLS to upstreams', () => {
  let gw: TestGateway;
  let store: Store;
  let ca: CertificateAuthority;
  let mail: Server;
  let impostor: Server;
  let kept: Server;
  let keptSerial: string;
  const refusals: string[] = [];

  before(async () => {
    // Start once without mTLS routes to create the CA (development auto-init), then add them.
    // CRL refreshed every second, so a revocation reaches the gateway within the test.
    gw = await startGateway({ ratelimit: { edge: { enabled: false } }, pki: { crl: { refreshIntervalSeconds: 1 } } }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    ca = await openAuthority(await openPkiCommandContext({ store, config: gw.gateway.config }));
    const gatewayId = gatewaySpiffeId(TD);
    mail = await mtlsUpstream(ca, `spiffe://${TD}/svc/mail`, [gatewayId], refusals);
    impostor = await mtlsUpstream(ca, `spiffe://${TD}/svc/other`, [gatewayId], refusals);
    const keptMaterial = await workload(ca, `spiffe://${TD}/svc/kept`);
    keptSerial = keptMaterial.serial;
    kept = await mtlsUpstream(ca, `spiffe://${TD}/svc/kept`, [gatewayId], refusals, keptMaterial);
    // Keeps idle connections far longer than the test runs: only revocation may end them.
    kept.keepAliveTimeout = 60_000;
    const port = (s: Server) => (s.address() as AddressInfo).port;
    await gw.writeConfig({
      ratelimit: { edge: { enabled: false } },
      pki: { crl: { refreshIntervalSeconds: 1 } },
      upstreams: {
        mail: { url: `https://127.0.0.1:${port(mail)}`, tls: { spiffeId: `spiffe://${TD}/svc/mail` } },
        impostor: { url: `https://127.0.0.1:${port(impostor)}`, tls: { spiffeId: `spiffe://${TD}/svc/mail` } },
        kept: { url: `https://127.0.0.1:${port(kept)}`, tls: { spiffeId: `spiffe://${TD}/svc/kept` }, keepAliveTimeoutMs: 60_000 },
      },
      routes: [
        { id: 'mail', path: '/mail', upstream: 'mail', access: 'public' },
        { id: 'impostor', path: '/impostor', upstream: 'impostor', access: 'public' },
        { id: 'kept', path: '/kept', upstream: 'kept', access: 'public' },
      ],
    });
    const reload = await gw.gateway.reload('test');
    assert.equal(reload.applied, true, JSON.stringify(reload.problems));
  });
  after(async () => {
    mail.closeAllConnections(); mail.close(); impostor.closeAllConnections(); impostor.close(); kept.closeAllConnections(); kept.close();
    await store.close();
    await gw.close();
  });

  it('reaches an upstream over mTLS, presenting the gateway\'s SPIFFE identity', async () => {
    const res = await gw.fetch('/mail/x');
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    assert.equal(body.served, `spiffe://${TD}/svc/mail`);
    assert.equal(body.peer, gatewaySpiffeId(TD));
  });

  it('refuses an upstream whose certificate is valid but names another SPIFFE id (502 identity mismatch)', async () => {
    const res = await gw.fetch('/impostor/x');
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_GATEWAY_UPSTREAM_IDENTITY_MISMATCH');
  });

  it('rotates the gateway\'s workload certificate on demand from the ops listener, and keeps serving', async () => {
    const rotate = () => request(`${gw.opsUrl}/certificates/rotate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const first = await rotate();
    assert.equal(first.statusCode, 200);
    const a = await first.body.json() as { serial: string; spiffeId: string };
    const second = await rotate();
    const b = await second.body.json() as { serial: string };
    assert.equal(a.spiffeId, gatewaySpiffeId(TD));
    assert.notEqual(a.serial, b.serial);
    assert.equal((await gw.fetch('/mail/after-rotation')).status, 200);
    const refusedGet = await request(`${gw.opsUrl}/certificates/rotate`);
    assert.equal(refusedGet.statusCode, 405);
    await refusedGet.body.dump();
    const crossSiteForm = await request(`${gw.opsUrl}/certificates/rotate`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    assert.equal(crossSiteForm.statusCode, 415, 'a cross-site form post cannot trigger a rotation');
    await crossSiteForm.body.dump();
  });

  it('stops using a pooled keep-alive connection to an upstream whose certificate is revoked, once the CRL has been refreshed (502, no request reaches it)', async () => {
    let handshakes = 0;
    let served = 0;
    kept.on('secureConnection', () => { handshakes++; });
    kept.on('request', () => { served++; });
    for (let i = 0; i < 3; i++) assert.equal((await gw.fetch('/kept/x')).status, 200);
    assert.equal(handshakes, 1, 'the requests before the revocation share one pooled connection');

    await ca.revoke({ serial: keptSerial }, 'keyCompromise');
    let last = { status: 200, body: '' };
    const deadline = Date.now() + 6_000;
    while (Date.now() < deadline) {
      last = await gw.fetch('/kept/x');
      if (last.status !== 200) break;
      // Well inside the keep-alive timeouts of both ends, so the connection stays open.
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(last.status, 502, 'the revoked upstream was still used on its pooled connection 6 s after the revocation');
    assert.equal(JSON.parse(last.body).error.code, 'ERR_GATEWAY_UPSTREAM_IDENTITY_MISMATCH');
    const before = served;
    assert.equal((await gw.fetch('/kept/x')).status, 502);
    assert.equal(served, before, 'a request reached the revoked upstream');
  });

  it('a client without a certificate cannot reach the upstream around the gateway', async () => {
    const direct = new Agent({ connect: { rejectUnauthorized: false } });
    await assert.rejects(request(`https://127.0.0.1:${(mail.address() as AddressInfo).port}/x`, { dispatcher: direct }));
    await direct.close();
    assert.ok(refusals.includes('ERR_PKI_PEER_CERT_MISSING') || refusals.some((c) => c.startsWith('ERR_PKI_PEER')), `refusals: ${refusals.join(',')}`);
  });
});
