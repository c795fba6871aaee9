/** mTLS for services in their own process: certificates from Gatehouse, renewed and hot-swapped (docs/sdk.md). */
export { createMtlsServer, peerOf, type MtlsServer, type MtlsServerOptions, type AllowedPeers, type PeerRefusedEvent } from './mtls-server.ts';
export { createMtlsClient, type MtlsClient, type MtlsClientOptions } from './mtls-client.ts';
export type { IdentitySource } from './identity-source.ts';
