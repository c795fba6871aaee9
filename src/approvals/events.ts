/**
 * Events of two-person approvals. Each carries the request binding (route, requester,
 * method, host, path, query, body digest, Content-Type and Content-Encoding when sent) so
 * that the audit log alone says who asked for what, who decided, and which request used it.
 * No body bytes, only their SHA-256.
 */
export interface ApprovalBindingFields {
  approvalId: string;
  routeId: string;
  requester: string;
  method: string;
  host: string;
  path: string;
  query: string;
  bodySha256: string;
  /** Bound Content-Type; absent when the request had none. */
  contentType?: string;
  /** Bound Content-Encoding; absent when the request had none. */
  contentEncoding?: string;
}

export interface ApprovalRequestedEvent extends ApprovalBindingFields {
  requestId: string;
  /** ISO 8601 time until which it may be decided. */
  expiresAt: string;
}

export interface ApprovalDecidedEvent extends ApprovalBindingFields {
  approver: string;
  requestId: string;
}

export interface ApprovalUsedEvent extends ApprovalBindingFields {
  approver: string;
  requestId: string;
}

/**
 * A request that had used an approval was refused before anything of it was sent upstream
 * (rate limit, guard, identity, enrich, or forward before dispatch): the approval is approved
 * again, with the same use window.
 */
export interface ApprovalReleasedEvent extends ApprovalBindingFields {
  approver: string;
  /** Request id of the refused request (the one `approval.used` named). */
  requestId: string;
  /** The refusal's error code (ERR_RATELIMIT_EXCEEDED, ERR_GATEWAY_UPSTREAM_UNAVAILABLE, …). */
  code: string;
  /** The stage that refused it. */
  stage: string;
}

/** A request carried an approval id that did not let it through. */
export interface ApprovalRefusedEvent {
  approvalId: string;
  requestId: string;
  /** The refusal's error code (ERR_APPROVAL_MISMATCH, _USED, _DENIED, _EXPIRED, _INVALID, _PENDING). */
  code: string;
  /** Who sent it, and what they sent. */
  subject: string;
  routeId: string;
  method: string;
  host: string;
  path: string;
  query: string;
  bodySha256: string;
  contentType?: string;
  contentEncoding?: string;
  /** The requester the approval was made for, when the id is known. */
  requester?: string;
}

export interface ApprovalEventPayloads {
  'approval.requested': ApprovalRequestedEvent;
  'approval.approved': ApprovalDecidedEvent;
  'approval.denied': ApprovalDecidedEvent;
  'approval.used': ApprovalUsedEvent;
  'approval.released': ApprovalReleasedEvent;
  'approval.refused': ApprovalRefusedEvent;
}
