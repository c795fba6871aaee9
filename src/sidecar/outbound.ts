/**
 * Outbound: a plain TCP port on 127.0.0.1 for the local service; each connection is carried
 * to a named peer over mTLS with this workload's current certificate, and only if the peer's
 * certificate chains to Gatehouse's roots, is not revoked, and names exactly the expected
 * SPIFFE id. Nothing is forwarded before that check. After a trust update (CRL refresh),
 * open tunnels to a peer whose certificate has since been revoked or has expired are closed.
 *
 * The plain port is on loopback only: any process on this host that can reach it acts as
 * this workload towards the peer, which is the sidecar model's trust boundary.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { WorkloadIdentity } from '../pki/client/workload-identity.ts';
import { mtlsClientOptions } from '../pki/mtls/tls-options.ts';
import { verifyPeer } from '../pki/mtls/verify-peer.ts';
import { normalizeSerial } from '../pki/serial.ts';
import { toGatehouseError } from '../core/errors.ts';
import type { OutboundSpec } from './specs.ts';

export interface OutboundOptions {
  identity: WorkloadIdentity;
  spec: OutboundSpec;
  logger: Logger;
  /** Handshake timeout. Default 10 s. */
  connectTimeoutMs?: number;
  /** ALPN protocols offered to the peer (SidecarOptions.alpn). */
  alpn?: readonly string[];
}

export interface OutboundProxy {
  address(): AddressInfo;
  close(): Promise<void>;
}

export async function startOutbound(options: OutboundOptions): Promise<OutboundProxy> {
  const { identity, spec } = options;
  const log = options.logger.child({ component: 'sidecar-outbound', localPort: spec.localPort, peer: spec.peerSpiffeId, peerAddress: `${spec.peerHost}:${spec.peerPort}` });
  const tunnels = new Map<TLSSocket, { local: Socket; serial: string }>();

  const server = createServer({ pauseOnConnect: true }, (local) => {
    const remote = tlsConnect({
      host: spec.peerHost, port: spec.peerPort,
      ...(isIP(spec.peerHost) === 0 ? { servername: spec.peerHost } : {}),
      // Material and trust as of now: a rotation applies to every new tunnel.
      ...mtlsClientOptions(identity.material, () => identity.trust, { expectedSpiffeId: spec.peerSpiffeId }, { checkHostname: false }),
      ...(options.alpn?.length ? { ALPNProtocols: [...options.alpn] } : {}),
    });
    remote.setTimeout(options.connectTimeoutMs ?? 10_000, () => remote.destroy(new Error('handshake timeout')));
    remote.once('secureConnect', () => {
      remote.setTimeout(0);
      const serial = normalizeSerial(remote.getPeerCertificate().serialNumber) ?? '';
      tunnels.set(remote, { local, serial });
      log.info({ serial }, 'outbound tunnel open');
      remote.pipe(local);
      local.pipe(remote);
      local.resume();
    });
    remote.on('error', (err: Error & { code?: string }) => {
      log.warn({ code: err.code, detail: err.message }, 'outbound connection failed or refused');
      local.destroy();
    });
    remote.on('close', () => { tunnels.delete(remote); local.destroy(); });
    local.on('error', () => remote.destroy());
    local.on('close', () => remote.destroy());
  });

  const unsubscribe = identity.onChange((change) => {
    if (!change.trust) return;
    // The peer's whole certificate is judged again, not only the CRL: a tunnel must not
    // outlive the peer certificate's expiry or its intermediate's revocation.
    for (const [remote, tunnel] of tunnels) {
      try {
        verifyPeer(remote.getPeerCertificate(), change.trust, { expectedSpiffeId: spec.peerSpiffeId, purpose: 'server' });
      } catch (error) {
        const e = toGatehouseError(error);
        log.warn({ serial: tunnel.serial, code: e.code, detail: e.detail }, e.code === 'ERR_PKI_PEER_CERT_REVOKED' ? 'peer revoked; closing its tunnel' : 'peer certificate no longer valid; closing its tunnel');
        remote.destroy();
        tunnel.local.destroy();
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.localPort, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  log.info({ address: server.address() }, 'outbound plain port listening');
  return {
    address: () => server.address() as AddressInfo,
    close: async () => {
      unsubscribe();
      for (const [remote, tunnel] of tunnels) { remote.destroy(); tunnel.local.destroy(); }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
