/**
 * Certificate authority tables (docs/pki.md): the CA's own material (keys sealed by
 * src/pki/key-sealing.ts, never plain), issued certificates with their revocation state,
 * signed CRLs, and one-time bootstrap tokens (hashes only).
 */
import type { ColumnType } from 'kysely';

export interface PkiCaTable {
  /** Always 'default': one CA per store. */
  id: string;
  key_algorithm: string;
  root_cert_pem: string;
  /** Null once the root key has been taken offline. */
  root_key_sealed: string | null;
  intermediate_cert_pem: string;
  intermediate_key_sealed: string;
  root_crl_pem: string;
  created_at: ColumnType<number, number, never>;
  /** JSON text array of {certPem, keySealed}, newest first (migration 0012); null for none. */
  previous_intermediates: string | null;
  /** JSON text of the PendingRoot of a root rotation under way (migration 0015); null for none. */
  pending_root: string | null;
  /** JSON text array of {certPem, crlPem}, newest first (migration 0015); null for none. */
  previous_roots: string | null;
}

export interface PkiCertificatesTable {
  serial: string;
  spiffe_id: string;
  /** JSON text array. */
  dns_names: string;
  /** JSON text array. */
  ip_addresses: string;
  not_before: number;
  not_after: number;
  cert_pem: string;
  issued_via: string;
  created_at: ColumnType<number, number, never>;
  revoked_at: number | null;
  revocation_reason: string | null;
  /** Serial of the certificate this one was renewed from (migration 0010); null otherwise, and for older rows. */
  renewed_from: string | null;
}

export interface PkiCrlsTable {
  number: number;
  this_update: number;
  next_update: number;
  /** Base64 DER (text on both backends). */
  der: string;
  /** JSON text array of base64 DER: the same CRL signed by each previous intermediate (migration 0012); null for none. */
  previous_ders: string | null;
}

export interface PkiBootstrapTokensTable {
  token_hash: string;
  id: string;
  spiffe_id: string;
  dns_names: string;
  ip_addresses: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface PkiTables {
  pki_ca: PkiCaTable;
  pki_certificates: PkiCertificatesTable;
  pki_crls: PkiCrlsTable;
  pki_bootstrap_tokens: PkiBootstrapTokensTable;
}
