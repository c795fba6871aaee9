/**
 * `gatehouse sidecar`: mTLS for a service in any language. One WorkloadIdentity (key made
 * here, certificate from Gatehouse, renewed at 2/3 of its life, CRLs refreshed) feeds every
 * inbound listener (mTLS in, plain out to the local service) and every outbound port (plain
 * in from the local service, mTLS out to a named peer). Logs are structured; the key, the
 * bootstrap token and certificate contents never reach them.
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import { GatehouseError } from '../core/errors.ts';
import { WorkloadIdentity, type WorkloadIdentityOptions } from '../pki/client/workload-identity.ts';
import type { PkiEventListener } from '../pki/events.ts';
import { startInbound, type InboundProxy } from './inbound.ts';
import { startOutbound, type OutboundProxy } from './outbound.ts';
import type { InboundSpec, OutboundSpec } from './specs.ts';

export interface SidecarOptions {
  /** How to obtain and renew this workload's certificate. */
  identity: WorkloadIdentityOptions;
  inbound?: readonly InboundSpec[];
  /** SPIFFE ids allowed through the inbound listeners (required when there is one). */
  allowPeers?: readonly string[];
  outbound?: readonly OutboundSpec[];
  /** Inbound as HTTP with an `x-gatehouse-peer` header instead of plain TCP. */
  http?: boolean;
  /**
   * ALPN protocols offered (outbound) and accepted (inbound, tcp mode), e.g. `['h2']` for gRPC,
   * whose clients and servers refuse a TLS connection that did not negotiate h2. The bytes are
   * forwarded as they are: behind `h2` the local service must speak HTTP/2 in clear (h2c).
   * Default none: nothing is negotiated, as before.
   */
  alpn?: readonly string[];
  logger: Logger;
  onEvent?: PkiEventListener;
}

export interface Sidecar {
  readonly identity: WorkloadIdentity;
  /** Bound addresses, in the order of the specs. */
  readonly inbound: AddressInfo[];
  readonly outbound: AddressInfo[];
  close(): Promise<void>;
}

/**
 * Obtains the identity, then opens every listener; on any failure closes what was opened.
 * @throws GatehouseError ERR_SIDECAR_ARGUMENT_INVALID and those of WorkloadIdentity.start
 */
export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const inboundSpecs = options.inbound ?? [];
  const outboundSpecs = options.outbound ?? [];
  if (inboundSpecs.length === 0 && outboundSpecs.length === 0) throw new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail: 'nothing to do: give --inbound and/or --outbound' });
  // Fail closed: an inbound listener never defaults to "anyone with a certificate".
  if (inboundSpecs.length > 0 && (options.allowPeers ?? []).length === 0) throw new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail: '--inbound needs at least one --allow-peer' });
  const alpn = options.alpn ?? [];
  // RFC 7301: 1–255 bytes each; printable ASCII keeps a typo (or a pasted newline) from being offered.
  for (const p of alpn) if (!/^[\x21-\x7e]{1,255}$/.test(p)) throw new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail: `--alpn ${JSON.stringify(p.slice(0, 40))}: not a protocol id` });
  if (alpn.length > 0 && options.http) throw new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail: '--alpn is for tcp mode (--http speaks HTTP/1.1 itself)' });

  const log = options.logger.child({ component: 'sidecar', spiffeId: options.identity.spiffeId });
  const identity = await WorkloadIdentity.start({
    ...options.identity, logger: options.logger,
    onEvent: (event) => { options.identity.onEvent?.(event); options.onEvent?.(event); },
  });
  const inbound: InboundProxy[] = [];
  const outbound: OutboundProxy[] = [];
  const close = async () => {
    await Promise.all([...inbound, ...outbound].map((p) => p.close().catch(() => undefined)));
    await identity.stop();
  };
  try {
    for (const spec of inboundSpecs) {
      inbound.push(await startInbound({ identity, spec, allowedPeers: options.allowPeers ?? [], mode: options.http ? 'http' : 'tcp', alpn, logger: options.logger, ...(options.onEvent ? { onEvent: options.onEvent } : {}) }));
    }
    for (const spec of outboundSpecs) outbound.push(await startOutbound({ identity, spec, alpn, logger: options.logger }));
  } catch (error) {
    await close();
    throw error;
  }
  log.info({ serial: identity.material.serial, notAfter: identity.material.notAfter, inbound: inbound.length, outbound: outbound.length }, 'sidecar ready');
  return { identity, inbound: inbound.map((p) => p.address()), outbound: outbound.map((p) => p.address()), close };
}
