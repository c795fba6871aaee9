/**
 * Events the identity provider publishes. Payloads never carry secrets (no passwords,
 * tokens, codes or keys); user names are included because audit needs them.
 *
 * The names and payloads are mirrored in `src/core/events.ts` (the typed event table);
 * this module is what identity code calls, so that it also works without a bus.
 */
export interface IdentityEventPayloads {
  'identity.login.succeeded': { subject: string; username: string; clientId?: string; clientAddress: string; amr: string[]; federatedProvider?: string };
  'identity.login.failed': { username: string; subject?: string; clientId?: string; clientAddress: string; reason: 'bad_credentials' | 'unknown_user' | 'locked' | 'disabled' | 'address_blocked' | 'federation' | 'federation_link_conflict' | 'mfa_not_enrolled'; federatedProvider?: string };
  'identity.login.throttled': { subject: string; clientAddress: string; failures: number; delayMs: number };
  'identity.account.locked': { subject: string; clientAddress: string; failures: number; lockedUntil: string };
  'identity.address.blocked': { clientAddress: string; blockedUntil: string };
  'identity.subject.blocked': { subject: string; endpoint: string; reason: 'blocked' | 'unavailable'; blockId?: string; blockedUntil?: string; clientId?: string; grantType?: string; clientAddress?: string };
  'identity.interaction.browser_mismatch': { interactionId: string; clientAddress: string; reason: 'no_cookie' | 'not_bound' | 'other_browser'; step: 'interaction' | 'resume'; clientId?: string };
  'identity.mfa.enrolled': { subject: string };
  'identity.mfa.verified': { subject: string; method: 'totp' | 'recovery_code'; remainingRecoveryCodes?: number };
  'identity.mfa.failed': { subject: string; clientAddress: string; reason: 'invalid' | 'replay' | 'locked' };
  'identity.token.issued': { tokenKind: 'access_token' | 'client_credentials' | 'refresh_token' | 'id_token'; clientId: string; subject?: string; grantId?: string; audience?: string; jti?: string };
  'identity.token.refreshed': { clientId: string; subject?: string; grantId: string };
  'identity.token.revoked': { clientId?: string; grantId?: string; tokenKind: string };
  'identity.client.auth_failed': { endpoint: 'token' | 'introspection' | 'revocation'; clientId?: string; clientAddress?: string; refusedCredential?: string; detail: string };
  'identity.refresh.reused': { clientId: string; subject?: string; grantId: string; clientAddress?: string };
  'identity.grant.revoked': { grantId: string; clientId?: string; reason: string };
  'identity.client.tokens_revoked': { clientId: string; kind: 'service' | 'app'; reason: 'removed' | 'disabled'; grants: number; accessTokens: number };
  'identity.keys.rotated': { kid: string; previousKid?: string; retireAt: string; algorithm: string; previousRetired?: boolean };
  'identity.api_token.created': { tokenId: string; ownerKind: 'user' | 'service'; ownerId: string; roles: string[]; expiresAt: string };
  'identity.api_token.revoked': { tokenId: string; ownerKind: 'user' | 'service'; ownerId: string };
  'principal.changed': { subject: string; kind: 'user' | 'service'; change: 'created' | 'updated' | 'disabled' | 'enabled' | 'removed' | 'password' | 'mfa_reset' | 'secret_rotated' | 'unlocked' };
}

export type IdentityEventName = keyof IdentityEventPayloads;

/** Publishes one identity event; never throws, never blocks. */
export type IdentityEmit = <N extends IdentityEventName>(name: N, payload: IdentityEventPayloads[N]) => void;

/** Minimal view of the event bus the identity provider needs (`EventBus` satisfies it). */
export interface IdentityBus {
  publish(name: never, payload: never): void;
  subscribe?(names: never[] | '*', handler: (event: { name: string; payload: unknown; instance: string }) => void | Promise<void>): () => void;
}
