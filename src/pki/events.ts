/**
 * Events the PKI emits for audit, metrics and alerts. Components take a `PkiEventListener`;
 * the gateway forwards them to the audit log. None carries a secret (no keys, no tokens).
 */
import type { ErrorCode } from '../core/error-codes.ts';
import type { RevocationReason } from './crl-builder.ts';

export type PkiEvent =
  | { type: 'pki.ca.initialized'; rootSerial: string; intermediateSerial: string; keyAlgorithm: string }
  | { type: 'pki.ca.root_key_exported' }
  | { type: 'pki.ca.root_key_removed' }
  | { type: 'pki.ca.intermediate_rotated'; intermediateSerial: string; previousSerial: string; notAfter: string }
  | { type: 'pki.ca.root_rotation_prepared'; rootSerial: string; currentRootSerial: string; notAfter: string; keyAlgorithm: string; currentKeyAlgorithm: string }
  | { type: 'pki.ca.root_rotation_cancelled'; rootSerial: string }
  | { type: 'pki.ca.root_rotated'; rootSerial: string; previousRootSerial: string; intermediateSerial: string }
  | { type: 'pki.certificate.issued'; serial: string; spiffeId: string; via: 'bootstrap' | 'renewal' | 'internal'; notAfter: string; previousSerial?: string }
  | { type: 'pki.certificate.refused'; code: ErrorCode; spiffeId?: string; detail?: string; clientAddress?: string; refusedCredential?: string }
  | { type: 'pki.certificate.revoked'; serials: string[]; target: string; reason: RevocationReason }
  | { type: 'pki.bootstrap_token.created'; tokenId: string; spiffeId: string; expiresAt: string }
  | { type: 'pki.bootstrap_token.revoked'; tokenIds: string[]; target: string }
  | { type: 'pki.crl.published'; number: number; entries: number; nextUpdate: string }
  | { type: 'pki.peer.refused'; code: ErrorCode; reason: string; remoteAddress?: string; spiffeId?: string; serial?: string }
  | { type: 'pki.peer.accepted'; spiffeId: string; serial: string; remoteAddress?: string }
  | { type: 'pki.rotation.completed'; spiffeId: string; serial: string; notAfter: string }
  | { type: 'pki.rotation.failed'; spiffeId: string; code: ErrorCode; retryInMs: number };

export type PkiEventType = PkiEvent['type'];
export type PkiEventListener = (event: PkiEvent) => void;

/** Calls a listener without letting its failure break the PKI operation that emitted. */
export function emitSafely(listener: PkiEventListener | undefined, event: PkiEvent): void {
  if (!listener) return;
  try { listener(event); } catch { /* a broken audit sink must not turn issuance into a failure after the fact */ }
}

/** Event name → payload, for the bus's event table (src/core/events.ts). */
export type PkiEventPayloads = { [E in PkiEvent as E['type']]: Omit<E, 'type'> };
