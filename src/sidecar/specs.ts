/**
 * The sidecar's port specifications, parsed strictly (a typo must not open a port nobody
 * meant to open):
 *
 *   --inbound  [LISTEN_HOST:]LISTEN_PORT:LOCAL_PORT
 *   --outbound LOCAL_PORT:PEER_HOST:PEER_PORT:PEER_SPIFFE_ID   (PEER_HOST may be [v6])
 */
import { isIP } from 'node:net';
import { GatehouseError } from '../core/errors.ts';
import { parseSpiffeId } from '../pki/spiffe.ts';

export interface InboundSpec {
  /** Where mTLS is accepted. Default 0.0.0.0. */
  listenHost: string;
  listenPort: number;
  /** The plain local service, always on loopback. */
  localPort: number;
}

export interface OutboundSpec {
  /** Plain port on 127.0.0.1 for the local service. */
  localPort: number;
  peerHost: string;
  peerPort: number;
  /** The only identity the peer may have. */
  peerSpiffeId: string;
}

function bad(detail: string): GatehouseError {
  return new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail });
}

/** Port 0 (any free port) is allowed where we listen, not where we connect. */
function port(value: string, what: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(value)) throw bad(`${what} ${JSON.stringify(value)} is not a port number`);
  const n = Number(value);
  if (n > 65535 || (n === 0 && !allowZero)) throw bad(`${what} ${n} is out of range`);
  return n;
}

function host(value: string, what: string): string {
  const unbracketed = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIP(unbracketed) !== 0) return unbracketed;
  // All digits and dots but not an IP ("8443", "10.1"): a misplaced port or a typo, never a host name.
  if (/^[\d.]+$/.test(value)) throw bad(`${what} ${JSON.stringify(value)} is not a host name or IP address`);
  if (!/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(value)) throw bad(`${what} ${JSON.stringify(value)} is not a host name or IP address`);
  return value;
}

/** Parses `[LISTEN_HOST:]LISTEN_PORT:LOCAL_PORT`. */
export function parseInbound(spec: string): InboundSpec {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):)?([^:]+):([^:]+)$/.exec(spec);
  if (!m) throw bad(`--inbound ${JSON.stringify(spec)}: expected [LISTEN_HOST:]LISTEN_PORT:LOCAL_PORT`);
  return { listenHost: m[1] ? host(m[1], 'listen host') : '0.0.0.0', listenPort: port(m[2]!, 'listen port', true), localPort: port(m[3]!, 'local port', false) };
}

/** Parses `LOCAL_PORT:PEER_HOST:PEER_PORT:PEER_SPIFFE_ID` (the SPIFFE id contains colons itself). */
export function parseOutbound(spec: string): OutboundSpec {
  const m = /^([^:]+):(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):([^:]+):(spiffe:\/\/.+)$/.exec(spec);
  if (!m) throw bad(`--outbound ${JSON.stringify(spec)}: expected LOCAL_PORT:PEER_HOST:PEER_PORT:PEER_SPIFFE_ID`);
  let peerSpiffeId: string;
  try { peerSpiffeId = parseSpiffeId(m[4]!).uri; } catch (cause) { throw new GatehouseError('ERR_SIDECAR_ARGUMENT_INVALID', { detail: `--outbound ${JSON.stringify(spec)}: invalid SPIFFE id`, cause }); }
  return { localPort: port(m[1]!, 'local port', true), peerHost: host(m[2]!, 'peer host'), peerPort: port(m[3]!, 'peer port', false), peerSpiffeId };
}
