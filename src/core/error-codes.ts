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

  ERR_GATEWAY_ROUTE_NOT_FOUND: { status: 404, message: 'Not found' },
  ERR_GATEWAY_UPSTREAM_UNAVAILABLE: { status: 502, message: 'Upstream unavailable' },
  ERR_GATEWAY_UPSTREAM_TIMEOUT: { status: 504, message: 'Upstream timeout' },
  ERR_GATEWAY_UPSTREAM_PROTOCOL: { status: 502, message: 'Upstream sent an invalid response' },
  ERR_GATEWAY_UPSTREAM_IDENTITY_MISMATCH: { status: 502, message: 'Upstream identity could not be verified' },
  ERR_GATEWAY_SHUTTING_DOWN: { status: 503, message: 'Shutting down' },

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
  ERR_AUTHN_LOGIN_FAILED: { status: 401, message: 'Invalid username or password' },
  ERR_AUTHN_ACCOUNT_LOCKED: { status: 429, message: 'Too many attempts; try again later' },
  ERR_AUTHN_MFA_REQUIRED: { status: 401, message: 'Multi-factor authentication required' },
  ERR_AUTHN_MFA_INVALID: { status: 401, message: 'Invalid verification code' },
  ERR_AUTHN_CSRF: { status: 403, message: 'Invalid or missing CSRF token' },
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
  ERR_AUTHN_RETURN_URL_INVALID: { status: 400, message: 'Return URL not allowed' },
  ERR_AUTHN_UNAVAILABLE: { status: 503, message: 'Authentication unavailable' },

  ERR_POLICY_DENIED: { status: 403, message: 'Forbidden' },
  ERR_POLICY_UNAVAILABLE: { status: 503, message: 'Authorization unavailable' },
  ERR_POLICY_INVALID: { status: 500, message: 'Policy is invalid' },

  ERR_APPROVAL_PENDING: { status: 403, message: 'This operation needs a second person\'s approval' },

  ERR_PKI_CSR_INVALID: { status: 400, message: 'Certificate signing request invalid' },
  ERR_PKI_IDENTITY_NOT_ALLOWED: { status: 403, message: 'Identity not allowed for this requester' },
  ERR_PKI_BOOTSTRAP_TOKEN_INVALID: { status: 401, message: 'Bootstrap token invalid or used' },
  ERR_PKI_NOT_INITIALIZED: { status: 503, message: 'Certificate authority not initialized' },
  ERR_PKI_CERT_NOT_FOUND: { status: 404, message: 'Certificate not found' },
  ERR_PKI_ALREADY_INITIALIZED: { status: 409, message: 'Certificate authority already initialized' },
  ERR_PKI_KEY_UNSUPPORTED: { status: 400, message: 'Key type or size not accepted' },
  ERR_PKI_SPIFFE_ID_INVALID: { status: 400, message: 'Invalid SPIFFE ID' },
  ERR_PKI_LIFETIME_INVALID: { status: 400, message: 'Requested certificate lifetime not allowed' },
  ERR_PKI_RENEWAL_UNAUTHORIZED: { status: 401, message: 'A valid certificate of the same identity is required' },
  ERR_PKI_MASTER_KEY_MISSING: { status: 500, message: 'Certificate authority key unavailable' },
  ERR_PKI_KEY_UNSEAL_FAILED: { status: 500, message: 'Certificate authority key unavailable' },
  ERR_PKI_ROOT_KEY_OFFLINE: { status: 409, message: 'The root key is offline' },
  ERR_PKI_PEER_CERT_MISSING: { status: 401, message: 'Client certificate required' },
  ERR_PKI_PEER_CERT_UNTRUSTED: { status: 401, message: 'Certificate not accepted' },
  ERR_PKI_PEER_CERT_EXPIRED: { status: 401, message: 'Certificate not accepted' },
  ERR_PKI_PEER_CERT_REVOKED: { status: 401, message: 'Certificate not accepted' },
  ERR_PKI_PEER_IDENTITY_MISMATCH: { status: 403, message: 'Certificate identity not accepted' },

  ERR_STORE_UNAVAILABLE: { status: 503, message: 'Storage unavailable' },
  ERR_STORE_CONFLICT: { status: 409, message: 'Conflict' },
  ERR_STORE_NOT_FOUND: { status: 404, message: 'Not found' },
  ERR_STORE_VALUE_INVALID: { status: 500, message: 'Internal error' },

  ERR_AUDIT_UNAVAILABLE: { status: 503, message: 'Audit log unavailable' },
  ERR_AUDIT_TAMPERED: { status: 500, message: 'Audit log verification failed' },

  ERR_BUS_UNAVAILABLE: { status: 503, message: 'Event bus unavailable' },

  ERR_IDENTITY_INPUT_INVALID: { status: 400, message: 'Invalid input' },
  ERR_IDENTITY_USER_EXISTS: { status: 409, message: 'A user with this name or e-mail already exists' },
  ERR_IDENTITY_USER_NOT_FOUND: { status: 404, message: 'User not found' },
  ERR_IDENTITY_CLIENT_EXISTS: { status: 409, message: 'A client with this id already exists' },
  ERR_IDENTITY_CLIENT_NOT_FOUND: { status: 404, message: 'Client not found' },
  ERR_IDENTITY_PASSWORD_WEAK: { status: 400, message: 'Password does not meet the requirements' },
  ERR_IDENTITY_INTERACTION_INVALID: { status: 400, message: 'The sign-in session expired or is invalid; start again' },
  ERR_IDENTITY_ADDRESS_BLOCKED: { status: 429, message: 'Too many attempts; try again later' },
  ERR_IDENTITY_FEDERATION_FAILED: { status: 401, message: 'Sign-in with the external provider failed' },
  ERR_IDENTITY_FEDERATION_NOT_ALLOWED: { status: 403, message: 'This account may not sign in here' },
  ERR_IDENTITY_KEY_ENCRYPTION: { status: 500, message: 'Signing keys could not be decrypted' },
  ERR_IDENTITY_API_TOKEN_SCOPE: { status: 403, message: 'Token roles exceed the owner\'s roles' },
  ERR_IDENTITY_API_TOKEN_NOT_FOUND: { status: 404, message: 'API token not found' },

  ERR_ADMIN_UNAUTHORIZED: { status: 401, message: 'Admin authentication required' },
  ERR_ADMIN_INPUT_INVALID: { status: 400, message: 'Invalid input' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
