/**
 * Table types of the identity provider's own tables (accounts, clients, API tokens,
 * signing keys, login throttling). Timestamps are epoch milliseconds in `bigint`
 * columns (read back through `Number()`: PostgreSQL's driver returns them as strings);
 * booleans are 0/1 integers and lists are JSON text, so that one schema serves SQLite
 * and PostgreSQL alike.
 */
type Millis = number | string | bigint;
type Flag = number;

export interface IdentityUsersTable {
  id: string;
  username: string;
  /** Lower-cased; unique when present. */
  email: string | null;
  email_verified: Flag;
  display_name: string | null;
  /** Argon2id PHC string; null for federated-only users. */
  password_hash: string | null;
  /** JSON array of role names. */
  roles: string;
  disabled: Flag;
  failed_logins: number;
  locked_until: Millis | null;
  /** TOTP secret, encrypted with the key-encryption secret (compact JWE). */
  totp_secret: string | null;
  totp_enabled: Flag;
  totp_last_step: Millis | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface IdentityRecoveryCodesTable {
  user_id: string;
  code_hash: string;
  used_at: Millis | null;
}

export interface IdentityFederatedLinksTable {
  provider: string;
  external_subject: string;
  user_id: string;
  created_at: Millis;
}

export interface IdentityClientsTable {
  client_id: string;
  /** 'service' (client credentials) or 'app' (a relying party for people). */
  kind: string;
  name: string;
  /** JSON object of OIDC client metadata, without any secret. */
  metadata: string;
  /** SHA-256 hex of the client secret; null for private_key_jwt / mTLS / public clients. */
  secret_hash: string | null;
  roles: string;
  allowed_scopes: string;
  allowed_audiences: string;
  disabled: Flag;
  created_at: Millis;
  updated_at: Millis;
}

export interface IdentityApiTokensTable {
  id: string;
  token_hash: string;
  name: string;
  owner_kind: string;
  owner_id: string;
  roles: string;
  expires_at: Millis;
  last_used_at: Millis | null;
  revoked_at: Millis | null;
  created_at: Millis;
}

export interface IdentityKeysTable {
  kid: string;
  /** 'sig' (token signing) or 'cookie' (cookie signing secret). */
  use: string;
  alg: string;
  /** 'active' | 'retiring' */
  status: string;
  /** Private key (or secret) as compact JWE under the key-encryption secret. */
  sealed: string;
  /** Public JWK as JSON text ('{}' for cookie keys). */
  public_jwk: string;
  created_at: Millis;
  /** When a retiring key leaves the JWKS; null while active. */
  retire_at: Millis | null;
}

export interface IdentityAddressFailuresTable {
  address: string;
  failures: number;
  window_start: Millis;
  blocked_until: Millis | null;
}

export interface IdentityTables {
  identity_users: IdentityUsersTable;
  identity_recovery_codes: IdentityRecoveryCodesTable;
  identity_federated_links: IdentityFederatedLinksTable;
  identity_clients: IdentityClientsTable;
  identity_api_tokens: IdentityApiTokensTable;
  identity_keys: IdentityKeysTable;
  identity_address_failures: IdentityAddressFailuresTable;
}
