/**
 * The closed registry of error codes: code → HTTP status and public message.
 * Codes are namespaced per area (ERR_<AREA>_<WHAT>). docs/errors.md is generated
 * from this table (scripts/gen-docs.ts) and a test fails when it is stale.
 *
 * Add a code here before throwing it; the type system refuses unknown codes.
 */
export const ERROR_CODES = {
  ERR_INTERNAL: { status: 500, message: 'Internal error' },

  ERR_CONFIG_INVALID: { status: 500, message: 'Configuration is invalid' },
  ERR_CONFIG_INSECURE_IN_PRODUCTION: { status: 500, message: 'A development-only setting is not allowed in production' },

  ERR_REQUEST_MALFORMED: { status: 400, message: 'Malformed request' },
  ERR_REQUEST_PATH_INVALID: { status: 400, message: 'The request path is not allowed' },
  ERR_REQUEST_HEADER_INVALID: { status: 400, message: 'A request header is not allowed' },
  ERR_REQUEST_SMUGGLING: { status: 400, message: 'Ambiguous message framing' },
  ERR_REQUEST_HEADERS_TOO_LARGE: { status: 431, message: 'Request headers too large' },
  ERR_REQUEST_BODY_TOO_LARGE: { status: 413, message: 'Request body too large' },
  ERR_REQUEST_TIMEOUT: { status: 408, message: 'Request timeout' },
  ERR_REQUEST_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this route' },
  ERR_REQUEST_EXPECTATION_FAILED: { status: 417, message: 'Only the 100-continue expectation is supported' },
  ERR_REQUEST_HTTP_VERSION_UNSUPPORTED: { status: 505, message: 'HTTP version not supported' },
  /** Never sent (nobody is listening): names why a request ended in records and events, e.g. an approval given back (`approval.released`). */
  ERR_REQUEST_CLIENT_CLOSED: { status: 400, message: 'The client closed the connection' },
  /** Logged and counted only: a connection whose TLS handshake failed has no HTTP to answer on. */
  ERR_TLS_HANDSHAKE_FAILED: { status: 400, message: 'TLS handshake failed' },

  ERR_GATEWAY_ROUTE_NOT_FOUND: { status: 404, message: 'Not found' },
  ERR_GATEWAY_UPSTREAM_UNAVAILABLE: { status: 502, message: 'Upstream unavailable' },
  ERR_GATEWAY_UPSTREAM_TIMEOUT: { status: 504, message: 'Upstream timeout' },
  ERR_GATEWAY_UPSTREAM_PROTOCOL: { status: 502, message: 'Upstream sent an invalid response' },
  ERR_GATEWAY_UPSTREAM_IDENTITY_MISMATCH: { status: 502, message: 'Upstream identity could not be verified' },

  ERR_SHIELD_IP_DENIED: { status: 403, message: 'Forbidden' },
  ERR_SHIELD_BLOCKED: { status: 403, message: 'Forbidden' },

  ERR_RATELIMIT_EXCEEDED: { status: 429, message: 'Too many requests' },
  ERR_RATELIMIT_UNAVAILABLE: { status: 503, message: 'Rate limiting unavailable' },

  ERR_AUTHN_REQUIRED: { status: 401, message: 'Authentication required' },
  ERR_AUTHN_TOKEN_INVALID: { status: 401, message: 'Invalid token' },
  ERR_AUTHN_TOKEN_EXPIRED: { status: 401, message: 'Token expired' },
  ERR_AUTHN_TOKEN_NOT_YET_VALID: { status: 401, message: 'Token not yet valid' },
  ERR_AUTHN_TOKEN_REVOKED: { status: 401, message: 'Token revoked' },
  ERR_AUTHN_TOKEN_AUDIENCE: { status: 401, message: 'Token audience not accepted' },
  ERR_AUTHN_TOKEN_ISSUER: { status: 401, message: 'Token issuer not accepted' },
  ERR_AUTHN_TOKEN_ALGORITHM: { status: 401, message: 'Token algorithm not accepted' },
  ERR_AUTHN_TOKEN_KEY_UNKNOWN: { status: 401, message: 'Token signing key unknown' },
  ERR_AUTHN_TOKEN_TOO_LARGE: { status: 401, message: 'Token too large' },
  ERR_AUTHN_TOKEN_BINDING: { status: 401, message: 'Token is bound to another key or certificate' },
  ERR_AUTHN_PRINCIPAL_DISABLED: { status: 401, message: 'Account disabled' },
  ERR_AUTHN_METHOD_NOT_ALLOWED: { status: 401, message: 'This authentication method is not accepted on this route' },
  ERR_AUTHN_CLIENT_CERT_INVALID: { status: 401, message: 'Client certificate not accepted' },
  ERR_AUTHN_DPOP_INVALID: { status: 401, message: 'Invalid DPoP proof' },
  ERR_AUTHN_CSRF: { status: 403, message: 'Invalid or missing CSRF token' },
  ERR_AUTHN_CROSS_SITE_REQUEST: { status: 403, message: 'Cross-site request refused' },
  ERR_AUTHN_STEP_UP_REQUIRED: { status: 401, message: 'Recent multi-factor authentication required' },
  ERR_AUTHN_TOKEN_MALFORMED: { status: 401, message: 'Malformed token' },
  ERR_AUTHN_TOKEN_SIGNATURE: { status: 401, message: 'Token signature invalid' },
  ERR_AUTHN_TOKEN_TYPE: { status: 401, message: 'Token type not accepted' },
  ERR_AUTHN_TOKEN_CRIT_UNSUPPORTED: { status: 401, message: 'Token requires an unsupported extension' },
  ERR_AUTHN_TOKEN_CHAIN_UNTRUSTED: { status: 401, message: 'Token certificate chain not trusted' },
  ERR_AUTHN_KEYS_UNAVAILABLE: { status: 503, message: 'Token signing keys unavailable' },
  ERR_AUTHN_API_TOKEN_INVALID: { status: 401, message: 'Invalid API token' },
  ERR_AUTHN_PRINCIPAL_UNKNOWN: { status: 401, message: 'Unknown account' },
  ERR_AUTHN_SESSION_INVALID: { status: 401, message: 'Session invalid or ended' },
  ERR_AUTHN_SESSION_EXPIRED: { status: 401, message: 'Session expired' },
  ERR_AUTHN_CREDENTIAL_AMBIGUOUS: { status: 401, message: 'More than one credential presented' },
  ERR_AUTHN_LOGIN_REDIRECT: { status: 302, message: 'Login required' },
  ERR_AUTHN_LOGIN_STATE_INVALID: { status: 400, message: 'Login attempt invalid or expired' },
  ERR_AUTHN_LOGIN_DENIED: { status: 403, message: 'Sign-in refused' },
  ERR_AUTHN_RETURN_URL_INVALID: { status: 400, message: 'Return URL not allowed' },
  ERR_AUTHN_UNAVAILABLE: { status: 503, message: 'Authentication unavailable' },
  ERR_AUTHN_TOKEN_BINDING_UNSUPPORTED: { status: 401, message: 'Token is bound by a confirmation method that is not supported' },
  ERR_AUTHN_CLIENT_CERT_REQUIRED: { status: 401, message: 'Token must be presented over TLS with the client certificate it is bound to' },
  ERR_AUTHN_DPOP_REQUIRED: { status: 401, message: 'Token must be presented with a DPoP proof' },
  ERR_AUTHN_DPOP_UNBOUND_TOKEN: { status: 401, message: 'Token is not bound to a DPoP key' },
  ERR_AUTHN_DPOP_KEY_MISMATCH: { status: 401, message: 'DPoP proof is signed by another key than the token is bound to' },
  ERR_AUTHN_DPOP_TARGET_MISMATCH: { status: 401, message: 'DPoP proof was made for another request' },
  ERR_AUTHN_DPOP_TOKEN_HASH: { status: 401, message: 'DPoP proof was made for another access token' },
  ERR_AUTHN_DPOP_STALE: { status: 401, message: 'DPoP proof is too old or from the future' },
  ERR_AUTHN_DPOP_REPLAYED: { status: 401, message: 'DPoP proof already used' },

  ERR_POLICY_DENIED: { status: 403, message: 'Forbidden' },
  ERR_POLICY_UNAVAILABLE: { status: 503, message: 'Authorization unavailable' },
  ERR_POLICY_INVALID: { status: 500, message: 'Policy is invalid' },

  ERR_SDK_ASSERTION_MISSING: { status: 401, message: 'Identity assertion required' },
  ERR_SDK_ASSERTION_INVALID: { status: 401, message: 'Identity assertion invalid' },
  ERR_SDK_ASSERTION_EXPIRED: { status: 401, message: 'Identity assertion expired' },
  ERR_SDK_ASSERTION_AUDIENCE: { status: 401, message: 'Identity assertion is for another service' },
  ERR_SDK_ASSERTION_BINDING: { status: 401, message: 'Identity assertion is bound to another request' },
  ERR_SDK_ASSERTION_REPLAYED: { status: 401, message: 'Identity assertion already used' },
  ERR_SDK_KEYS_UNAVAILABLE: { status: 503, message: 'Identity assertion keys unavailable' },
  ERR_SDK_FORBIDDEN: { status: 403, message: 'Forbidden' },
  ERR_SDK_APPROVAL_REQUIRED: { status: 403, message: 'This operation needs a second person\'s approval' },

  ERR_APPROVAL_PENDING: { status: 403, message: 'This operation needs a second person\'s approval' },
  ERR_APPROVAL_INVALID: { status: 403, message: 'Approval id unknown or malformed' },
  ERR_APPROVAL_NOT_FOUND: { status: 404, message: 'Approval not found' },
  ERR_APPROVAL_DENIED: { status: 403, message: 'This operation was denied by an approver' },
  ERR_APPROVAL_EXPIRED: { status: 403, message: 'The approval has expired' },
  ERR_APPROVAL_USED: { status: 403, message: 'The approval was already used' },
  ERR_APPROVAL_MISMATCH: { status: 403, message: 'The approval is for another request' },
  ERR_APPROVAL_SELF: { status: 403, message: 'An approver cannot approve their own request' },
  ERR_APPROVAL_NOT_APPROVER: { status: 403, message: 'Not allowed to decide this approval' },
  ERR_APPROVAL_NOT_PENDING: { status: 409, message: 'The approval was already decided' },
  ERR_APPROVAL_LIMIT: { status: 429, message: 'Too many approvals waiting; wait for a decision or let some expire' },

  ERR_PKI_CSR_INVALID: { status: 400, message: 'Certificate signing request invalid' },
  ERR_PKI_IDENTITY_NOT_ALLOWED: { status: 403, message: 'Identity not allowed for this requester' },
  ERR_PKI_BOOTSTRAP_TOKEN_INVALID: { status: 401, message: 'Bootstrap token invalid or used' },
  ERR_PKI_NOT_INITIALIZED: { status: 503, message: 'Certificate authority not initialized' },
  ERR_PKI_CERT_NOT_FOUND: { status: 404, message: 'Certificate not found' },
  ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND: { status: 404, message: 'Bootstrap token not found' },
  ERR_PKI_ALREADY_INITIALIZED: { status: 409, message: 'Certificate authority already initialized' },
  ERR_PKI_KEY_UNSUPPORTED: { status: 400, message: 'Key type or size not accepted' },
  ERR_PKI_SPIFFE_ID_INVALID: { status: 400, message: 'Invalid SPIFFE ID' },
  ERR_PKI_LIFETIME_INVALID: { status: 400, message: 'Requested certificate lifetime not allowed' },
  ERR_PKI_RENEWAL_UNAUTHORIZED: { status: 401, message: 'A valid certificate of the same identity is required' },
  /** Renewal or bootstrap issuance for a SPIFFE id under a temporary block (detection, `gatehouse alerts block`). */
  ERR_PKI_IDENTITY_BLOCKED: { status: 403, message: 'Identity temporarily blocked' },
  ERR_PKI_MASTER_KEY_MISSING: { status: 500, message: 'Certificate authority key unavailable' },
  ERR_PKI_KEY_UNSEAL_FAILED: { status: 500, message: 'Certificate authority key unavailable' },
  ERR_PKI_ROOT_KEY_OFFLINE: { status: 409, message: 'The root key is offline' },
  /** `ca rotate-root --key-type` names a key type the CA does not make for its roots and intermediates. */
  ERR_PKI_CA_KEY_TYPE_INVALID: { status: 400, message: 'Key type not available for the certificate authority' },
  /** `ca rotate-root` while a prepared root waits for `--activate`: one root rotation at a time. */
  ERR_PKI_ROOT_ROTATION_PENDING: { status: 409, message: 'A root rotation is already under way' },
  /** `ca rotate-root --activate` with no prepared root, or before relying parties had time to trust it (`--force`). */
  ERR_PKI_ROOT_ROTATION_NOT_READY: { status: 409, message: 'No root rotation can be activated now' },
  /** The issuing intermediate has expired (or expires too soon to issue): `gatehouse ca rotate-intermediate`. */
  ERR_PKI_INTERMEDIATE_EXPIRED: { status: 503, message: 'Certificate authority cannot issue until it is rotated' },
  ERR_PKI_PEER_CERT_MISSING: { status: 401, message: 'Client certificate required' },
  ERR_PKI_PEER_CERT_UNTRUSTED: { status: 401, message: 'Certificate not accepted' },
  ERR_PKI_PEER_CERT_EXPIRED: { status: 401, message: 'Certificate not accepted' },
  ERR_PKI_PEER_CERT_REVOKED: { status: 401, message: 'Certificate not accepted' },
  ERR_PKI_PEER_IDENTITY_MISMATCH: { status: 403, message: 'Certificate identity not accepted' },
  ERR_PKI_CLIENT_KEY_PERMISSIONS: { status: 500, message: 'Workload key file permissions are too open' },
  ERR_PKI_CLIENT_STATE_INVALID: { status: 500, message: 'Stored workload certificate is unusable' },
  ERR_PKI_CLIENT_NO_CREDENTIAL: { status: 500, message: 'No bootstrap token and no usable certificate' },
  ERR_PKI_CLIENT_CA_UNREACHABLE: { status: 503, message: 'Certificate authority unreachable' },
  ERR_PKI_CLIENT_RESPONSE_INVALID: { status: 502, message: 'Certificate authority answer invalid' },
  ERR_PKI_CLIENT_TRUST_INVALID: { status: 502, message: 'Trust material invalid' },
  ERR_SIDECAR_ARGUMENT_INVALID: { status: 400, message: 'Invalid sidecar argument' },
  ERR_SIDECAR_LOCAL_UNREACHABLE: { status: 502, message: 'Local service unreachable' },

  ERR_STORE_UNAVAILABLE: { status: 503, message: 'Storage unavailable' },
  ERR_STORE_CONFLICT: { status: 409, message: 'Conflict' },
  ERR_STORE_VALUE_INVALID: { status: 500, message: 'Internal error' },

  ERR_AUDIT_UNAVAILABLE: { status: 503, message: 'Audit log unavailable' },
  /** The spool directory others can write to (world- or group-writable, another owner): records could be planted there and replayed into the chain. */
  ERR_AUDIT_SPOOL_INSECURE: { status: 500, message: 'Audit spool directory is not safe' },
  ERR_AUDIT_TAMPERED: { status: 500, message: 'Audit log verification failed' },
  ERR_AUDIT_KEY_MISSING: { status: 500, message: 'Audit signing key missing' },
  ERR_AUDIT_KEY_INVALID: { status: 500, message: 'Audit signing key invalid' },
  ERR_AUDIT_QUERY_INVALID: { status: 400, message: 'Invalid audit query' },
  ERR_AUDIT_EXPORT_FAILED: { status: 502, message: 'Audit export failed' },
  ERR_AUDIT_CHECKPOINTS_INVALID: { status: 400, message: 'Invalid checkpoint export file' },
  ERR_DETECT_BLOCK_INVALID: { status: 400, message: 'Invalid block request' },
  ERR_DETECT_QUERY_INVALID: { status: 400, message: 'Invalid alert query' },
  /** `alerts unblock` of an address or prefix that a wider active block holds: lifting it alone would leave it refused, so nothing is lifted. */
  ERR_DETECT_BLOCK_COVERED: { status: 409, message: 'A wider active block covers this address' },

  ERR_BUS_UNAVAILABLE: { status: 503, message: 'Event bus unavailable' },
  /** Logged and counted only: an event bus subscriber's handler did not settle in time (10 s by default); the delivery counts as failed. */
  ERR_BUS_HANDLER_TIMEOUT: { status: 500, message: 'Event handler timed out' },
  /** Logged and counted only: an event whose envelope or payload does not match the event table was refused (never delivered, never redelivered). */
  ERR_BUS_EVENT_INVALID: { status: 500, message: 'Invalid event' },
  /** Logged and counted only: an event over the bus's size limit (1 000 000 bytes by default) was refused at publish. */
  ERR_BUS_EVENT_TOO_LARGE: { status: 500, message: 'Event too large' },

  ERR_IDENTITY_INPUT_INVALID: { status: 400, message: 'Invalid input' },
  ERR_IDENTITY_USER_EXISTS: { status: 409, message: 'A user with this name or e-mail already exists' },
  ERR_IDENTITY_USER_NOT_FOUND: { status: 404, message: 'User not found' },
  ERR_IDENTITY_CLIENT_EXISTS: { status: 409, message: 'A client with this id already exists' },
  ERR_IDENTITY_CLIENT_NOT_FOUND: { status: 404, message: 'Client not found' },
  ERR_IDENTITY_PASSWORD_WEAK: { status: 400, message: 'Password does not meet the requirements' },
  ERR_IDENTITY_INTERACTION_INVALID: { status: 400, message: 'The sign-in session expired or is invalid; start again' },
  /** The interaction (its sign-in page, forms or resume) was reached from a browser other than the one that started it: cookies planted by a sibling subdomain (login CSRF), or started before the upgrade that added the binding. */
  ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH: { status: 403, message: 'This sign-in was started in another browser; start again' },
  ERR_IDENTITY_MFA_NOT_ENROLLED: { status: 403, message: 'This needs a second factor and the account has none yet: set up an authenticator at an ordinary sign-in first (or ask an administrator), then try again' },
  ERR_IDENTITY_FEDERATION_FAILED: { status: 401, message: 'Sign-in with the external provider failed' },
  ERR_IDENTITY_FEDERATION_NOT_ALLOWED: { status: 403, message: 'This account may not sign in here' },
  ERR_IDENTITY_FEDERATION_LINK_CONFLICT: { status: 403, message: 'This account is already linked to another external identity' },
  ERR_IDENTITY_KEY_ENCRYPTION: { status: 500, message: 'Signing keys could not be decrypted' },
  ERR_IDENTITY_API_TOKEN_SCOPE: { status: 403, message: 'Token roles exceed the owner\'s roles' },
  ERR_IDENTITY_API_TOKEN_NOT_FOUND: { status: 404, message: 'API token not found' },

  ERR_ADMIN_INPUT_INVALID: { status: 400, message: 'Invalid input' },
  ERR_ADMIN_FORBIDDEN: { status: 403, message: 'Operator actions are accepted from this host only' },
  ERR_OPS_HOST_UNKNOWN: { status: 421, message: 'This listener does not serve that host name' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
