/**
 * The SDK's mTLS server and client between workloads in their own processes' shoes: both
 * get their certificates from a real HTTPS "Gatehouse" (the CA's HTTP handler), over real
 * sockets and TLS, with `openssl s_client` as the outside judge of what the server refuses.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { WorkloadIdentity } from '../../src/pki/client/workload-identity.ts';
import { mtlsClientOptions } from '../../src/pki/mtls/tls-options.ts';
import { normalizeSerial } from '../../src/pki/serial.ts';
import { createMtlsClient, createMtlsServer, peerOf, type MtlsServer, type PeerRefusedEvent } from '../../src/sdk/index.ts';
import { caFixture, type CaFixture } from '../pki/support/ca-fixture.ts';
import { makeCsr, openssl } from '../pki/support/openssl.ts';
import { spiffe, startTestPki, type TestPki } from './support/gatehouse-pki.ts';

const STORE = spiffe('svc', 'mail-store');
const API = spiffe('svc', 'mail-api');
const API2 = spiffe('svc', 'mail-api-2');
const INTRUDER = spiffe('svc', 'intruder');

describe('SDK mTLS server and client', () => {
  let pki: TestPki;
  let other: CaFixture;
  let store: WorkloadIdentity;
  let server: MtlsServer;
  let port: number;
  const refusals: PeerRefusedEvent[] = [];
  const handled: string[] = [];
  const identities: WorkloadIdentity[] = [];

  const identity = async (id: string, extra: { renewAtFraction?: number; lifetimeSeconds?: number } = {}) => {
    const i = await WorkloadIdentity.start({ gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: id, bootstrapToken: await pki.token(id), trustRefreshMs: 300, ...extra });
    identities.push(i);
    return i;
  };

  /** s_client with a key made by openssl and a certificate from `fixture` (our CA or another). */
  async function sClient(cert?: { fixture: CaFixture; spiffeId: string; expired?: boolean }) {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.f.rootPath, '-verify_return_error', '-ign_eof', '-quiet'];
    if (cert) {
      const name = `c${Math.random().toString(36).slice(2)}`;
      const csr = await makeCsr(pki.f.dir, name, 'ec-p256');
      if (cert.expired) cert.fixture.setNow(new Date(Date.now() - 7_200_000));
      const issued = await cert.fixture.ca.issue({ csr: csr.csrPem, spiffeId: cert.spiffeId, lifetimeSeconds: 300 });
      if (cert.expired) cert.fixture.setNow(undefined as unknown as Date);
      args.push('-cert', await pki.f.write(`${name}.crt`, issued.certificatePem), '-key', csr.keyPath);
    }
    return openssl(args, 'GET /probe HTTP/1.1\r\nHost: store\r\nConnection: close\r\n\r\n');
  }

  before(async () => {
    pki = await startTestPki();
    other = await caFixture();
    store = await identity(STORE);
    server = await createMtlsServer({ identity: store, allowedPeers: [API, API2], onPeerRefused: (e) => refusals.push(e) }, (req, res) => {
      handled.push(req.url ?? '');
      res.end(`hello ${peerOf(req)?.spiffeId} serial=${peerOf(req)?.serial}`);
    });
    port = (await server.listen(0, '127.0.0.1')).port;
  });
  after(async () => {
    await server?.close();
    for (const i of identities) await i.stop();
    await pki?.close();
    await other?.cleanup();
  });

  it('accepts an allowed peer and tells the handler who it is', async () => {
    const client = await createMtlsClient({ identity: await identity(API), expectedPeer: STORE });
    try {
      const res = await client.request(`https://127.0.0.1:${port}/hello`);
      assert.equal(res.statusCode, 200);
      assert.match(await res.body.text(), new RegExp(`^hello ${API.replace(/[.]/g, '\\.')} `));
    } finally { await client.close(); }
  });

  it('refuses a client without a certificate before the handler runs (ERR_PKI_PEER_CERT_MISSING)', async () => {
    const before = handled.length;
    const r = await sClient();
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(handled.length, before);
    assert.equal(refusals.at(-1)?.code, 'ERR_PKI_PEER_CERT_MISSING');
  });

  it('refuses a certificate from another CA that names an allowed SPIFFE id (ERR_PKI_PEER_CERT_UNTRUSTED)', async () => {
    const before = handled.length;
    const r = await sClient({ fixture: other, spiffeId: API });
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(handled.length, before);
    assert.equal(refusals.at(-1)?.code, 'ERR_PKI_PEER_CERT_UNTRUSTED');
  });

  it('refuses a certificate from our CA with a SPIFFE id that is not allowed (ERR_PKI_PEER_IDENTITY_MISMATCH)', async () => {
    const before = handled.length;
    const r = await sClient({ fixture: pki.f, spiffeId: INTRUDER });
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(handled.length, before);
    assert.equal(refusals.at(-1)?.code, 'ERR_PKI_PEER_IDENTITY_MISMATCH');
    assert.equal(refusals.at(-1)?.spiffeId, INTRUDER);
  });

  it('refuses an expired certificate of an allowed identity (ERR_PKI_PEER_CERT_EXPIRED)', async () => {
    const before = handled.length;
    const r = await sClient({ fixture: pki.f, spiffeId: API, expired: true });
    assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
    assert.equal(handled.length, before);
    assert.equal(refusals.at(-1)?.code, 'ERR_PKI_PEER_CERT_EXPIRED');
  });

  it('refuses a peer revoked at the CA once the CRL refreshes, also on its open keep-alive connection (ERR_PKI_PEER_CERT_REVOKED)', async () => {
    const api2 = await identity(API2);
    const client = await createMtlsClient({ identity: api2, expectedPeer: STORE, agentOptions: { keepAliveTimeout: 60_000 } });
    try {
      assert.equal((await (await client.request(`https://127.0.0.1:${port}/before`)).body.text()).startsWith(`hello ${API2}`), true);
      const serial = normalizeSerial(api2.material.serial)!;
      const revokedSeen = new Promise<void>((resolve) => {
        const off = store.onChange((c) => { if (c.trust?.isRevoked(serial)) { off(); resolve(); } });
      });
      await pki.f.ca.revoke({ serial }, 'keyCompromise');
      // The server's identity refreshes trust every 300 ms here; the criterion is "within a minute".
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([revokedSeen, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('revocation not seen within a minute')), 60_000); })]);
      clearTimeout(timer);
      assert.ok(refusals.some((e) => e.code === 'ERR_PKI_PEER_CERT_REVOKED' && e.serial === serial && e.reason === 'revoked while connected'), 'the open keep-alive connection was closed');
      // The first attempt may hit the pooled socket the server just closed; later ones are new handshakes.
      for (let i = 0; i < 3; i++) await assert.rejects(client.request(`https://127.0.0.1:${port}/after`));
      assert.ok(!handled.includes('/after'), 'no request of the revoked peer reached the handler');
      assert.ok(refusals.some((e) => e.code === 'ERR_PKI_PEER_CERT_REVOKED' && e.serial === serial && e.reason === 'CERT_REVOKED'), `OpenSSL refused the new handshake with the CRL: ${JSON.stringify(refusals.slice(-3))}`);
    } finally { await client.close(); }
  });

  it('the client refuses a server whose SPIFFE id is not the expected one (ERR_PKI_PEER_IDENTITY_MISMATCH)', async () => {
    const before = handled.length;
    const client = await createMtlsClient({ identity: await identity(API), expectedPeer: spiffe('svc', 'mail-archive') });
    try {
      await assert.rejects(client.request(`https://127.0.0.1:${port}/wrong-server`), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_PKI_PEER_IDENTITY_MISMATCH', String(err));
        return true;
      });
      assert.equal(handled.length, before);
    } finally { await client.close(); }
  });

  it('rotates both certificates 4 times under continuous keep-alive and new-connection requests, losing none', async () => {
    const api = await identity(API);
    const keepAlive = await createMtlsClient({ identity: api, expectedPeer: STORE, agentOptions: { keepAliveTimeout: 60_000 } });
    const fresh = await createMtlsClient({ identity: api, expectedPeer: STORE });
    const url = `https://127.0.0.1:${port}/loop`;
    const failures: unknown[] = [];
    const clientSerials = new Set<string>();
    let ok = 0;
    let running = true;
    const loop = async (client: typeof keepAlive, reset: boolean) => {
      while (running) {
        try {
          const r = await client.request(url, { reset });
          const text = await r.body.text();
          if (r.statusCode === 200 && text.startsWith(`hello ${API} `)) { ok++; clientSerials.add(text.split('serial=')[1]!); } else failures.push(`${r.statusCode} ${text}`);
        } catch (error) { failures.push(error); }
      }
    };
    const serverSerial = () => new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ...mtlsClientOptions(api.material, api.trust, { expectedSpiffeId: STORE }, { checkHostname: false }) }, () => {
        resolve(normalizeSerial(socket.getPeerCertificate().serialNumber)!);
        socket.destroy();
      });
      socket.on('error', reject);
    });
    const loops = [loop(keepAlive, false), loop(keepAlive, false), loop(fresh, true)];
    const serverSerials = new Set<string>([await serverSerial()]);
    try {
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const [s] = await Promise.all([store.rotateNow(), api.rotateNow()]);
        serverSerials.add(s.serial);
        assert.equal(await serverSerial(), s.serial, 'new connections see the new server certificate');
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      running = false;
      await Promise.all(loops);
      await keepAlive.close();
      await fresh.close();
    }
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests completed`);
    assert.equal(serverSerials.size, 5);
    assert.ok(clientSerials.size >= 2, 'the server saw the client\'s renewed certificate');
  });

  it('listen() reports the address it bound', async () => {
    const extra = await createMtlsServer({ identity: store, allowedPeers: () => false }, (_req, res) => res.end());
    const address: AddressInfo = await extra.listen(0, '127.0.0.1');
    assert.ok(address.port > 0);
    await extra.close();
  });
});
