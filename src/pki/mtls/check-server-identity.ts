/**
 * A `checkServerIdentity` for `tls.connect` / undici `connect` options that checks the
 * upstream's SPIFFE id (and, unless turned off, also the host name the usual way).
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { toGatehouseError } from '../../core/errors.ts';
import type { TrustStore } from '../trust-store.ts';
import { verifyPeer } from './verify-peer.ts';

export type SpiffeIdentityPolicy =
  | { expectedSpiffeId: string }
  | { allowedSpiffeIds: readonly string[] | ((spiffeId: string) => boolean) };

/** Error returned to the TLS layer; `code` is the Gatehouse code, the reason is in `detail`. */
export class ServerIdentityError extends Error {
  readonly code: string;
  readonly detail: string | undefined;
  constructor(code: string, detail: string | undefined) {
    super(`${code}: upstream certificate refused${detail ? ` (${detail})` : ''}`);
    this.name = 'ServerIdentityError';
    this.code = code;
    this.detail = detail;
  }
}

/**
 * @param trust the trust store, or a getter returning the current one (so CRL refreshes apply).
 * @returns a function that returns an Error to abort the connection, or undefined to accept.
 */
export function spiffeServerIdentityCheck(trust: TrustStore | (() => TrustStore), policy: SpiffeIdentityPolicy, options: { checkHostname?: boolean } = {}): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (hostname, cert) => {
    if (options.checkHostname !== false) {
      const hostError = checkServerIdentity(hostname, cert);
      if (hostError) return hostError;
    }
    try {
      verifyPeer(cert, typeof trust === 'function' ? trust() : trust, { ...policy, purpose: 'server' });
      return undefined;
    } catch (error) {
      const e = toGatehouseError(error);
      return new ServerIdentityError(e.code, e.detail);
    }
  };
}
