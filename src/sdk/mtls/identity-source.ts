/**
 * Where an mTLS server or client gets its certificate: an existing WorkloadIdentity (share
 * one between a service's server and its clients: one key, one renewal schedule), or the
 * options to start one (then the server/client owns it and stops it on close).
 */
import { WorkloadIdentity, type WorkloadIdentityOptions } from '../../pki/client/workload-identity.ts';

export type IdentitySource =
  | { identity: WorkloadIdentity }
  | (WorkloadIdentityOptions & { identity?: undefined });

/** Starts the identity when options were given; `owned` says whether closing must stop it. */
export async function resolveIdentity(source: IdentitySource): Promise<{ identity: WorkloadIdentity; owned: boolean }> {
  if (source.identity) return { identity: source.identity, owned: false };
  return { identity: await WorkloadIdentity.start(source), owned: true };
}
