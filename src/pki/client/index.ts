/** Public surface of the workload issuance client (docs/sidecar.md, docs/sdk.md). */
export { WorkloadIdentity, type WorkloadIdentityOptions, type IdentityChange, type IdentityListener } from './workload-identity.ts';
export { PkiApiClient, DEFAULT_PKI_API_PATH, type PkiApiClientOptions, type IssuedAnswer, type TrustAnswer } from './pki-api-client.ts';
export { buildVerifiedTrust, type VerifiedTrust } from './verified-trust.ts';
export { MaterialStore, KEY_FILE, CERT_FILE, TRUST_FILE } from './material-store.ts';
export { checkMaterial } from './check-material.ts';
export { createKeyAndCsr, type WorkloadKeyAlgorithm } from '../key-and-csr.ts';
