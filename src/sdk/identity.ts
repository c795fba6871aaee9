/**
 * The verified identity a protected service sees, and local role checks on it.
 */
import { GatehouseError } from '../core/errors.ts';

/** Who sent the request, as asserted by Gatehouse and verified by the SDK. */
export interface GatehouseIdentity {
  readonly subject: string;
  readonly kind: 'user' | 'service';
  readonly roles: readonly string[];
  /** RFC 8176 authentication method references, e.g. ['pwd', 'otp']. */
  readonly amr: readonly string[];
  /** How the gateway authenticated the request: `session` | `jwt` | `api_token` | `mtls` | `dpop`. */
  readonly authMethod: string;
  /** Unix seconds of the login, when known. */
  readonly authTime: number | undefined;
  readonly issuer: string;
  readonly audience: string;
  /** Request id, when the assertion was bound to the request. */
  readonly requestId: string | undefined;
  /**
   * The second person's approval of this very request (a route with `approval`), signed by the
   * gateway; only ever present on a request-bound assertion. Undefined when none was used.
   */
  readonly approval: GatehouseApproval | undefined;
  /** Unix seconds. */
  readonly expiresAt: number;
  /** `jti` of the assertion, for logs. */
  readonly assertionId: string;
}

/** A used two-person approval: its id (`apv_…`) and the subject who approved. */
export interface GatehouseApproval {
  readonly id: string;
  readonly approver: string;
}

/** True when the identity has at least one of `roles`. */
export function hasRole(identity: GatehouseIdentity | undefined, ...roles: string[]): boolean {
  return identity !== undefined && roles.some((r) => identity.roles.includes(r));
}

/**
 * Local authorization check in the service, on top of the gateway's policy.
 * @throws GatehouseError ERR_SDK_ASSERTION_MISSING without an identity, ERR_SDK_FORBIDDEN (403) without any of `roles`.
 * @example
 *   requireRole(identityOf(req), 'mail-admin');
 */
export function requireRole(identity: GatehouseIdentity | undefined, ...roles: string[]): asserts identity is GatehouseIdentity {
  if (identity === undefined) throw new GatehouseError('ERR_SDK_ASSERTION_MISSING');
  if (!hasRole(identity, ...roles)) {
    throw new GatehouseError('ERR_SDK_FORBIDDEN', { detail: `${identity.kind} ${identity.subject} has none of the roles ${roles.join(', ')}` });
  }
}

/** Only services, optionally only the named ones (service-to-service calls). */
export function requireService(identity: GatehouseIdentity | undefined, ...names: string[]): asserts identity is GatehouseIdentity {
  if (identity === undefined) throw new GatehouseError('ERR_SDK_ASSERTION_MISSING');
  if (identity.kind !== 'service' || (names.length > 0 && !names.includes(identity.subject))) {
    throw new GatehouseError('ERR_SDK_FORBIDDEN', { detail: `${identity.kind} ${identity.subject} is not an allowed service` });
  }
}

/**
 * Only a request the gateway let through with a second person's approval (defence in depth
 * behind a route's `approval`: a misconfigured route must not run the operation unapproved).
 * Returns the verified approval, e.g. for the service's own audit.
 * @throws GatehouseError ERR_SDK_ASSERTION_MISSING without an identity, ERR_SDK_APPROVAL_REQUIRED (403) without an approval claim.
 * @example
 *   const { id, approver } = requireApproval(identityOf(req));
 */
export function requireApproval(identity: GatehouseIdentity | undefined): GatehouseApproval {
  if (identity === undefined) throw new GatehouseError('ERR_SDK_ASSERTION_MISSING');
  if (identity.approval === undefined) {
    throw new GatehouseError('ERR_SDK_APPROVAL_REQUIRED', { detail: `${identity.kind} ${identity.subject}: assertion ${identity.assertionId} carries no approval` });
  }
  return identity.approval;
}
