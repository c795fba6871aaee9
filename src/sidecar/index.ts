/** The sidecar (docs/sidecar.md). */
export { startSidecar, type Sidecar, type SidecarOptions } from './sidecar.ts';
export { parseInbound, parseOutbound, type InboundSpec, type OutboundSpec } from './specs.ts';
export { PEER_HEADER } from './inbound.ts';
