/** Public surface of the certificate authority and mTLS building blocks (docs/pki.md). */
export { CertificateAuthority, type CertificateAuthorityOptions, type IssuedCertificate, type IssueOptions, type InternalIssueRequest, type CreateBootstrapTokenRequest } from './authority.ts';
export { initCa, type InitCaOptions, type InitCaResult } from './ca-init.ts';
export { resolveMasterKey, PKI_KEY_ENV, type ResolveMasterKeyOptions } from './master-key.ts';
export { MemoryPkiRepository } from './memory-repository.ts';
export type { PkiRepository, CaRecord, CertificateRecord, CrlRecord, BootstrapTokenRecord, RevokedEntry } from './repository.ts';
export { TrustStore } from './trust-store.ts';
export { crlToPem, REVOCATION_REASONS, type RevocationReason } from './crl-builder.ts';
export { parseSpiffeId, formatSpiffeId, type SpiffeId } from './spiffe.ts';
export type { PkiEvent, PkiEventListener, PkiEventType } from './events.ts';
export type { TlsMaterial } from './mtls/tls-material.ts';
export { secureContextOptions, mtlsServerOptions, mtlsClientOptions } from './mtls/tls-options.ts';
export { spiffeServerIdentityCheck, ServerIdentityError, type SpiffeIdentityPolicy } from './mtls/check-server-identity.ts';
export { verifyPeer, type VerifiedPeer, type VerifyPeerOptions, type PeerCertificateInput } from './mtls/verify-peer.ts';
export { MtlsServerGuard, type MtlsServerGuardOptions } from './mtls/server-guard.ts';
export { CertificateRotator, generateKeyAndCsr, type CertificateRotatorOptions, type ObtainedCertificate } from './mtls/rotator.ts';
export { CrlWatcher, type CrlWatcherOptions } from './mtls/crl-watcher.ts';
export { createPkiHttpHandler, type PkiHttpHandler, type PkiHttpHandlerOptions } from './http/pki-http-handler.ts';
