/**
 * Events the gateway's authentication publishes. `authn.invalidated` carries every
 * invalidation authn itself originates (a revoked token id, an ended session, all sessions
 * of a subject) to every instance, so each drops what it cached. Principal changes and
 * API-token revocations are the identity provider's own events (`principal.changed`,
 * `identity.api_token.revoked`); authn subscribes to them too.
 *
 * The payload carries no secret: session ids are SHA-256 hashes of cookie values (no cookie
 * can be made from them); token ids are issuer and `jti` values, not tokens.
 */
export interface AuthnInvalidatedEvent {
  type: 'token.revoked' | 'session.revoked' | 'sessions.revoked' | 'principal.changed' | 'api-token.revoked';
  /** token.revoked: the revoked token's issuer (a jti is unique only within its issuer). */
  issuer?: string;
  /** token.revoked */
  jti?: string;
  /** token.revoked: epoch seconds after which the entry can be forgotten. */
  expiresAt?: number;
  /** session.revoked */
  sessionId?: string;
  /** sessions.revoked, principal.changed */
  subject?: string;
  /** api-token.revoked */
  tokenId?: string;
}

export interface AuthnEventPayloads {
  'authn.invalidated': AuthnInvalidatedEvent;
}

/** A step-up route refused a principal without a recent second factor (src/authn/step-up-stage.ts). */
export interface AuthnStepUpRequiredEvent {
  requestId: string;
  routeId: string;
  subject: string;
  /** How the request was authenticated: session, jwt, dpop, api_token, mtls. */
  credential: string;
  reason: 'no_mfa' | 'mfa_too_old' | 'mfa_time_in_future' | 'not_capable';
  maxAgeSeconds: number;
  response: 'challenge' | 'login_redirect';
  clientAddress: string;
}

export interface AuthnEventPayloads {
  'authn.step_up.required': AuthnStepUpRequiredEvent;
}
