/**
 * Outbound tunnels at a trust update: the peer's certificate is judged again, so an open
 * tunnel does not outlive the peer certificate's expiry.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer, type Server } from 'node:tls';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { startSidecar, type Sidecar } from '../../src/sidecar/sidecar.ts';
import { spiffe, startTestPki, type TestPki } from '../pki-client/support/gatehouse-pki.ts';
import { captureLogger } from './support/helpers.ts';

const LEGACY = spiffe('sidecar', 'legacy');
const STORE = spiffe('svc', 'store');

describe('sidecar outbound: open tunnels at a trust update', () => {
  let pki: TestPki;
  let base: string;
  let peer: Server;
  let sidecar: Sidecar;
  let peerNotAfter: Date;
  const log = captureLogger();

  before(async () => {
    pki = await startTestPki();
    base = await mkdtemp(join(tmpdir(), 'gatehouse-sidecar-recheck-'));
    // The peer's certificate: issued "300 s ago" with the shortest lifetime, so it is valid
    // now and expires two seconds from now.
    const key = await generateKeyAndCsr(STORE);
    pki.f.setNow(new Date(Date.now() - 298_000));
    const issued = await pki.f.ca.issue({ csr: key.csrPem, spiffeId: STORE, lifetimeSeconds: 300 });
    pki.f.setNow(new Date());
    peerNotAfter = issued.notAfter;
    peer = createTlsServer({ key: key.keyPem, cert: issued.chainPem }, (socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    sidecar = await startSidecar({
      identity: { gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: LEGACY, bootstrapToken: await pki.token(LEGACY), dataDir: join(base, 'out'), trustRefreshMs: 60_000 },
      outbound: [{ localPort: 0, peerHost: '127.0.0.1', peerPort: (peer.address() as AddressInfo).port, peerSpiffeId: STORE }],
      logger: log.logger,
    });
  });
  after(async () => {
    await sidecar?.close();
    await new Promise<void>((resolve) => { if (peer) peer.close(() => resolve()); else resolve(); });
    await pki?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('closes a tunnel to a peer whose certificate expired while it was open (ERR_PKI_PEER_CERT_EXPIRED)', async () => {
    const local: Socket = netConnect({ host: '127.0.0.1', port: sidecar.outbound[0]!.port });
    local.write('ping');
    const echoed = await new Promise<string>((resolve, reject) => { local.once('data', (d: Buffer) => resolve(d.toString())); local.once('error', reject); });
    assert.equal(echoed, 'ping');
    const closed = new Promise<void>((resolve) => local.once('close', () => resolve()));

    while (Date.now() <= peerNotAfter.getTime() + 1000) await sleep(200);
    // A new CRL (any revocation) is what makes the workload hand new trust to its listeners.
    const other = await generateKeyAndCsr(spiffe('svc', 'other'));
    const bump = await pki.f.ca.issue({ csr: other.csrPem, spiffeId: spiffe('svc', 'other') });
    await pki.f.ca.revoke({ serial: bump.serial });
    while (!sidecar.identity.trust.isRevoked(bump.serial)) await sidecar.identity.refreshTrust();

    assert.ok(log.lines.some((l) => l.msg === 'peer certificate no longer valid; closing its tunnel' && l.code === 'ERR_PKI_PEER_CERT_EXPIRED'), 'the expired peer\'s tunnel is closed');
    await closed;
  });
});
