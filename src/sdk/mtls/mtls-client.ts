/**
 * `createMtlsClient`: an undici dispatcher for calling other workloads over mTLS. It presents
 * this workload's current certificate and accepts a server only if its chain ends at
 * Gatehouse's roots, it is not revoked (current CRLs), and its SPIFFE id is the expected one
 * — not just any certificate of the trust domain, and not a host name.
 *
 * Each new connection is made with the material and trust in force at that moment (the
 * connector is rebuilt whenever the WorkloadIdentity renews or fetches CRLs), so a rotation
 * needs no new agent and drops no request; pooled connections to a server that has since
 * been revoked, or whose certificate has expired, are closed when new trust arrives (the
 * whole peer check runs again, not only the CRL lookup). TLS session resumption is off: Node
 * skips `checkServerIdentity` on a resumed session, which would skip the SPIFFE check.
 */
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, fetch as undiciFetch, request as undiciRequest, type Dispatcher } from 'undici';
import type { WorkloadIdentity } from '../../pki/client/workload-identity.ts';
import type { SpiffeIdentityPolicy } from '../../pki/mtls/check-server-identity.ts';
import { mtlsClientOptions } from '../../pki/mtls/tls-options.ts';
import { verifyPeer } from '../../pki/mtls/verify-peer.ts';
import { resolveIdentity, type IdentitySource } from './identity-source.ts';

export type MtlsClientOptions = IdentitySource & {
  /** The server's SPIFFE id (or the ids / a predicate for several servers). */
  expectedPeer: string | readonly string[] | ((spiffeId: string) => boolean);
  /** Also check the host name against the certificate's DNS/IP names. Default false: the SPIFFE id is the identity. */
  checkHostname?: boolean;
  /** Further undici Agent options (pool sizes, timeouts); `connect` is ours. */
  agentOptions?: Omit<Agent.Options, 'connect'>;
};

export interface MtlsClient {
  /** Pass as `dispatcher` to undici's `request`/`fetch`/`stream`. */
  readonly dispatcher: Dispatcher;
  readonly identity: WorkloadIdentity;
  /** undici `fetch` through this client. */
  fetch(input: Parameters<typeof undiciFetch>[0], init?: Omit<NonNullable<Parameters<typeof undiciFetch>[1]>, 'dispatcher'>): ReturnType<typeof undiciFetch>;
  /** undici `request` through this client. */
  request(url: string | URL, options?: Omit<NonNullable<Parameters<typeof undiciRequest>[1]>, 'dispatcher'>): ReturnType<typeof undiciRequest>;
  /** Closes the pool (in-flight requests finish) and stops the identity if this client started it. */
  close(): Promise<void>;
}

function policyOf(expected: MtlsClientOptions['expectedPeer']): SpiffeIdentityPolicy {
  return typeof expected === 'string' ? { expectedSpiffeId: expected } : { allowedSpiffeIds: expected };
}

/**
 * Starts (or reuses) the workload identity and returns the client.
 *
 * @example
 *   import { createMtlsClient } from 'gatehouse/sdk';
 *
 *   const store = await createMtlsClient({ identity, expectedPeer: 'spiffe://example/svc/mail-store' });
 *   const res = await store.fetch('https://mail-store.internal:8443/messages');
 */
export async function createMtlsClient(options: MtlsClientOptions): Promise<MtlsClient> {
  const { identity, owned } = await resolveIdentity(options);
  const policy = policyOf(options.expectedPeer);
  const checkHostname = options.checkHostname ?? false;
  const build = () => buildConnector({
    ...mtlsClientOptions(identity.material, () => identity.trust, policy, { checkHostname }),
    maxCachedSessions: 0,
  });
  let connector = build();
  const live = new Set<TLSSocket>();

  const unsubscribe = identity.onChange((change) => {
    connector = build();
    if (!change.trust) return;
    // The server's whole certificate is judged again, not only the CRL: a keep-alive
    // connection must not outlive the certificate's expiry or its intermediate's revocation.
    for (const socket of live) {
      try {
        verifyPeer(socket.getPeerCertificate(), change.trust, { ...policy, purpose: 'server' });
      } catch {
        socket.destroy();
      }
    }
  });

  const agent = new Agent({
    ...options.agentOptions,
    connect: (connectOptions, callback) => {
      connector(connectOptions, (error, socket) => {
        if (error || !socket) { callback(error ?? new Error('no socket'), null); return; }
        const tls = socket as TLSSocket;
        live.add(tls);
        tls.once('close', () => live.delete(tls));
        callback(null, socket);
      });
    },
  });

  return {
    dispatcher: agent, identity,
    fetch: (input, init) => undiciFetch(input, { ...init, dispatcher: agent }),
    request: (url, requestOptions) => undiciRequest(url, { ...requestOptions, dispatcher: agent }),
    close: async () => {
      unsubscribe();
      await agent.close();
      if (owned) await identity.stop();
    },
  };
}
