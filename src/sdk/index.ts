/**
 * Gatehouse service SDK (`gatehouse/sdk`): what a protected service uses to check that a
 * request really came through the gateway, and who sent it.
 *
 * @example
 *   import http from 'node:http';
 *   import { createAssertionVerifier, withGatehouseIdentity, identityOf, requireRole, sendError } from 'gatehouse/sdk';
 *
 *   const verifier = createAssertionVerifier({
 *     jwksUrl: 'https://gateway.example/.well-known/gatehouse/assertion-jwks.json',
 *     issuer: 'https://gateway.example',
 *     audience: 'mail-store', // this service's upstream name in the gateway config
 *   });
 *   http.createServer(withGatehouseIdentity(verifier, (req, res) => {
 *     try { requireRole(identityOf(req), 'mail-admin'); } catch (err) { return sendError(res, err); }
 *     res.end(`hello ${identityOf(req)!.subject}`);
 *   })).listen(8080);
 */
export {
  IDENTITY_ASSERTION_HEADER,
  IDENTITY_ASSERTION_JWKS_PATH,
  IDENTITY_ASSERTION_TYP,
  IDENTITY_KIND_HEADER,
  IDENTITY_ROLES_HEADER,
  IDENTITY_SUBJECT_HEADER,
  type IdentityAssertionClaims,
} from './contract.ts';
export { createAssertionVerifier, type AssertionVerifier, type AssertionVerifierOptions, type RequestFacts } from './verifier.ts';
export { hasRole, requireApproval, requireRole, requireService, type GatehouseApproval, type GatehouseIdentity } from './identity.ts';
export {
  gatehouseExpress,
  gatehouseFastify,
  identityOf,
  sendError,
  withGatehouseIdentity,
  withGatehouseUpgrade,
  type FastifyReplyLike,
  type FastifyRequestLike,
  type MiddlewareOptions,
  type RequestLike,
  type ResponseLike,
  type UpgradeSocketLike,
} from './middleware.ts';
export { GatehouseError, isGatehouseError } from '../core/errors.ts';
// mTLS between services with certificates Gatehouse issues and renews (src/sdk/mtls, docs/sdk.md).
export { createMtlsServer, createMtlsClient, peerOf, type MtlsServer, type MtlsServerOptions, type MtlsClient, type MtlsClientOptions, type AllowedPeers, type PeerRefusedEvent, type IdentitySource } from './mtls/index.ts';
export { WorkloadIdentity, type WorkloadIdentityOptions, type IdentityChange } from '../pki/client/index.ts';
export type { VerifiedPeer } from '../pki/mtls/verify-peer.ts';
export type { TlsMaterial } from '../pki/mtls/tls-material.ts';
