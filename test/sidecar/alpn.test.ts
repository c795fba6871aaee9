/**
 * gRPC through the sidecar: gRPC clients and servers refuse a TLS connection that did not
 * negotiate ALPN `h2`, and the sidecar negotiated nothing, so the docs' "tcp mode carries gRPC"
 * failed at the handshake. `--alpn h2` makes the inbound listener accept and the outbound
 * tunnel offer it (the bytes are forwarded as they are: the local side speaks h2c).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { WorkloadIdentity } from '../../src/pki/client/workload-identity.ts';
import { mtlsClientOptions } from '../../src/pki/mtls/tls-options.ts';
import { MtlsServerGuard } from '../../src/pki/mtls/server-guard.ts';
import { startSidecar } from '../../src/sidecar/sidecar.ts';
import { spiffe, startTestPki, type TestPki } from '../pki-client/support/gatehouse-pki.ts';
import { captureLogger, plainService } from './support/helpers.ts';

const LEGACY = spiffe('sidecar', 'legacy');
const API = spiffe('svc', 'api');

describe('sidecar ALPN (--alpn)', () => {
  let pki: TestPki;
  let base: string;
  const cleanups: Array<() => Promise<unknown>> = [];
  const identity = async (id: string) => {
    const i = await WorkloadIdentity.start({ gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: id, bootstrapToken: await pki.token(id), trustRefreshMs: 500 });
    cleanups.push(() => i.stop());
    return i;
  };
  const sidecarIdentity = async (name: string) => ({
    gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, spiffeId: LEGACY, bootstrapToken: await pki.token(LEGACY), dataDir: join(base, name), trustRefreshMs: 500,
  });

  before(async () => {
    pki = await startTestPki();
    base = await mkdtemp(join(tmpdir(), 'gatehouse-sidecar-alpn-'));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await pki?.close();
    await rm(base, { recursive: true, force: true });
  });

  /** The ALPN protocol an allowed peer (API) negotiates with the inbound listener when offering h2. */
  async function negotiated(port: number): Promise<string | false> {
    const api = await identity(API);
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], ...mtlsClientOptions(api.material, api.trust, { expectedSpiffeId: LEGACY }, { checkHostname: false }) });
      socket.once('secureConnect', () => { resolve(socket.alpnProtocol ?? false); socket.destroy(); });
      socket.once('error', reject);
    });
  }

  it('inbound in tcp mode accepts h2 with --alpn h2 (a gRPC client would refuse the handshake otherwise), and negotiates nothing without it', async () => {
    const service = await plainService('legacy');
    cleanups.push(() => service.close());
    const { logger } = captureLogger();
    const withAlpn = await startSidecar({ identity: await sidecarIdentity('in-h2'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort: service.port }], allowPeers: [API], alpn: ['h2'], logger });
    cleanups.push(() => withAlpn.close());
    assert.equal(await negotiated(withAlpn.inbound[0]!.port), 'h2');
    const without = await startSidecar({ identity: await sidecarIdentity('in-none'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort: service.port }], allowPeers: [API], logger });
    cleanups.push(() => without.close());
    assert.equal(await negotiated(without.inbound[0]!.port), false);
  });

  it('outbound offers the protocols of --alpn to the peer', async () => {
    const store = await identity(spiffe('svc', 'store'));
    const guard = new MtlsServerGuard({ material: store.material, trust: store.trust, policy: { allowedSpiffeIds: [LEGACY] } });
    const server = createTlsServer({ ...guard.serverOptions(), ALPNProtocols: ['h2'] });
    guard.attach(server);
    const seen: (string | false)[] = [];
    server.on('secureConnection', (s: TLSSocket) => { seen.push(s.alpnProtocol ?? false); s.end(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const { logger } = captureLogger();
    const sidecar = await startSidecar({ identity: await sidecarIdentity('out-h2'), outbound: [{ localPort: 0, peerHost: '127.0.0.1', peerPort: (server.address() as { port: number }).port, peerSpiffeId: spiffe('svc', 'store') }], alpn: ['h2'], logger });
    cleanups.push(() => sidecar.close());
    await new Promise<void>((resolve) => {
      const local = netConnect({ host: '127.0.0.1', port: sidecar.outbound[0]!.port });
      local.on('close', () => resolve());
      local.on('error', () => resolve());
      local.resume();
    });
    assert.deepEqual(seen, ['h2']);
  });

  it('refuses --alpn with --http and a protocol id with a control character', async () => {
    const { logger } = captureLogger();
    await assert.rejects(startSidecar({ identity: await sidecarIdentity('bad-1'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort: 1 }], allowPeers: [API], http: true, alpn: ['h2'], logger }), { code: 'ERR_SIDECAR_ARGUMENT_INVALID' });
    await assert.rejects(startSidecar({ identity: await sidecarIdentity('bad-2'), inbound: [{ listenHost: '127.0.0.1', listenPort: 0, localPort: 1 }], allowPeers: [API], alpn: ['h2\n'], logger }), { code: 'ERR_SIDECAR_ARGUMENT_INVALID' });
  });
});
