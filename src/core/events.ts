/**
 * The typed event table: every event a Gatehouse component publishes on the bus, with the
 * shape of its payload and a runtime description from which docs/events.md is generated
 * (`npm run docs`; a test fails when the doc is stale).
 *
 * Adding an event takes two blocks, each self-contained so that several people can add
 * events at once without touching each other's lines:
 *   1. a payload interface and one property in `GatehouseEvents`;
 *   2. one entry in `EVENT_TABLE` (the compiler refuses an entry whose `fields` do not
 *      list exactly the payload's keys, or that disagrees on which keys are optional).
 *
 * Payloads are plain JSON values: they cross process boundaries (NATS) and end up in the
 * audit log. Never put secrets in a payload (tokens, passwords, keys, cookies).
 */

import type { IdentityEventPayloads } from '../identity/events.ts';
import type { PkiEventPayloads } from '../pki/events.ts';
import type { AuthnEventPayloads } from '../authn/events.ts';
import type { ApprovalEventPayloads } from '../approvals/events.ts';
import type { PathRefusal } from '../gateway/router/normalize-path.ts';

// ---------------------------------------------------------------------------------------
// Payload types
// ---------------------------------------------------------------------------------------

/** The access event: one per request, including early exits. */
export interface GatewayRequestEvent {
  requestId: string;
  traceId: string;
  routeId?: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  clientAddress: string;
  subject?: string;
  issuer?: string;
  errorCode?: string;
  /** Why the request target was refused (ERR_REQUEST_PATH_INVALID only). */
  pathRefusal?: PathRefusal;
  /** Where in the target it was refused (ERR_REQUEST_PATH_INVALID only). */
  pathOffset?: number;
  /** Digest of a credential refused as never issued (authn/refused-credential.ts). */
  refusedCredential?: string;
  stage: string;
  bytesIn: number;
  bytesOut: number;
  upstreamStatus?: number;
}

export interface ConfigReloadedEvent {
  generation: number;
  source: string;
  routes: number;
  changedKeys: string[];
}

export interface ConfigProblem {
  path: string;
  message: string;
}

export interface ConfigRejectedEvent {
  source: string;
  problems: ConfigProblem[];
}

export interface RateLimitExceededEvent {
  scope: 'edge' | 'identity';
  policy: string;
  requestId: string;
  clientAddress: string;
  subject?: string;
  routeId?: string;
  limit: number;
  retryAfterMs: number;
}

export interface RateLimitUnavailableEvent {
  scope: 'edge' | 'identity';
  failOpen: boolean;
  detail: string;
  suppressed: number;
}

/** Anomaly detection raised an alert (src/detect). */
export interface DetectAlertEvent {
  alertId: string;
  rule: string;
  severity: 'low' | 'medium' | 'high';
  keyKind: 'address' | 'subject' | 'account';
  key: string;
  count: number;
  windowStart: string;
  actions: string[];
}

/** A temporary block of a client address or identity was added (by detection or an admin). */
export interface DetectBlockAddedEvent {
  blockId: string;
  kind: 'address' | 'subject';
  value: string;
  reason: string;
  alertId?: string;
  createdBy: string;
  expiresAt: string;
}

/** A block was lifted before it expired. */
export interface DetectBlockLiftedEvent {
  blockId: string;
  kind: 'address' | 'subject';
  value: string;
  liftedBy: string;
}

/** The audit log signed a checkpoint (for anchoring outside Gatehouse). */
export interface AuditCheckpointEvent {
  chain: string;
  seq: number;
  hash: string;
  kid: string;
}

/** An authorization decision of the policy engine (src/policy), allowed or denied. */
export interface PolicyDecisionEvent {
  decisionId: string;
  requestId?: string;
  routeId?: string;
  allowed: boolean;
  basis: string;
  policySet?: string;
  policySetVersion?: string;
  reasons: string[];
  errors: { policyId: string; message: string }[];
  principal: string;
  action: string;
  resource: string;
  cached: boolean;
  /** What the decision was made on, reduced to what the set reads (for replay and "why"). */
  input?: PolicyReplayInput;
}

/**
 * The inputs of a policy decision, enough to evaluate it again under other policies
 * (`gatehouse policy diff --replay`): principal, roles, the principal attributes and context
 * fields the deciding set reads, action, resource and time. Never credentials: only headers
 * listed in `policy.contextHeaders` (never authorization/cookie), and the audit log redacts
 * secret-looking keys on top.
 */
export interface PolicyReplayInput {
  principal: { kind: 'user' | 'service'; id: string; roles: string[]; attributes: Record<string, unknown> };
  /** HTTP method as requested (a named operation is resolved again from the route's directory). */
  action: string;
  resource: { routeId: string; upstream?: string; path?: string; host?: string };
  /** Request context fields (names of `PolicyRequestContext`: `mfaTime`, not `mfaAge`). */
  context: Record<string, unknown>;
  /** Unix milliseconds the decision was made at. */
  now: number;
  /** Which principal attributes and Cedar context fields were recorded ('all' when the set reads them through computed expressions). */
  recorded: { attributes: string[] | 'all'; context: string[] | 'all' };
}

/** Event name → payload type. One property per event. */
export interface GatehouseEvents {
  'gateway.request': GatewayRequestEvent;
  'config.reloaded': ConfigReloadedEvent;
  'config.rejected': ConfigRejectedEvent;
  'ratelimit.exceeded': RateLimitExceededEvent;
  'ratelimit.unavailable': RateLimitUnavailableEvent;
  'policy.decision': PolicyDecisionEvent;
  'detect.alert': DetectAlertEvent;
  'detect.block.added': DetectBlockAddedEvent;
  'detect.block.lifted': DetectBlockLiftedEvent;
  'audit.checkpoint': AuditCheckpointEvent;
}

// Identity provider events (payload types in src/identity/events.ts).
export interface GatehouseEvents extends IdentityEventPayloads {}

// Certificate authority events (payload types in src/pki/events.ts).
export interface GatehouseEvents extends PkiEventPayloads {}

// Gateway authentication events (payload types in src/authn/events.ts).
export interface GatehouseEvents extends AuthnEventPayloads {}

// Two-person approval events (payload types in src/approvals/events.ts).
export interface GatehouseEvents extends ApprovalEventPayloads {}

export type EventName = keyof GatehouseEvents;

/**
 * What travels on the bus: the payload wrapped with its identity and origin.
 * A union over event names, so `if (e.name === 'gateway.request') e.payload.status` narrows.
 */
export type Envelope<N extends EventName = EventName> = {
  [K in N]: {
    /** UUIDv7: unique and sortable by creation time (millisecond precision). */
    id: string;
    /** ISO 8601 time of publication on the publishing instance. */
    time: string;
    /** instanceId of the publishing Gatehouse instance. */
    instance: string;
    name: K;
    payload: GatehouseEvents[K];
  };
}[N];

// ---------------------------------------------------------------------------------------
// Runtime table (documentation source)
// ---------------------------------------------------------------------------------------

/** Documentation of one payload field. `type` is descriptive text, e.g. `string`, `number`, `ConfigProblem[]`. */
export interface FieldDoc {
  type: string;
  description: string;
  optional?: boolean;
}

type RequiredKeys<P> = { [K in keyof P]-?: undefined extends P[K] ? never : K }[keyof P];

/** Fields must document exactly the payload's keys; optional keys must say `optional: true`. */
export type FieldDocs<P> = {
  [K in keyof P]-?: K extends RequiredKeys<P> ? FieldDoc & { optional?: false } : FieldDoc & { optional: true };
};

export interface EventSpec<P> {
  description: string;
  /** Module(s) that publish the event. */
  emittedBy: string;
  fields: FieldDocs<P>;
}

export const EVENT_TABLE: { readonly [N in EventName]: EventSpec<GatehouseEvents[N]> } = {
  'authn.invalidated': {
    description: 'Something authentication caches must forget, on every instance: a revoked JWT id (also each JWT access token of a grant the identity provider revoked), an ended browser session (logout, admin), all sessions of a subject. Each instance drops the entries from its verified-token, API-token and session caches.',
    emittedBy: 'src/authn (revocation list, session manager), src/identity (JWT access tokens of a revoked grant), src/cli (token revoke-jwt)',
    fields: {
      type: { type: "'token.revoked' | 'session.revoked' | 'sessions.revoked' | 'principal.changed' | 'api-token.revoked'", description: 'What became invalid.' },
      issuer: { type: 'string', description: 'Issuer of the revoked JWT (`token.revoked`): a jti is unique only within its issuer.', optional: true },
      jti: { type: 'string', description: 'Revoked JWT id (`token.revoked`).', optional: true },
      expiresAt: { type: 'number', description: 'Epoch seconds when the revoked token expires anyway (`token.revoked`).', optional: true },
      sessionId: { type: 'string', description: 'SHA-256 of the ended session\'s cookie value (`session.revoked`); not usable as a cookie.', optional: true },
      subject: { type: 'string', description: 'Subject whose sessions ended (`sessions.revoked`) or who changed (`principal.changed`).', optional: true },
      tokenId: { type: 'string', description: 'Revoked API token id (`api-token.revoked`).', optional: true },
    },
  },
  'authn.step_up.required': {
    description: 'A route with `stepUp` refused a principal without a recent enough second factor: a 401 ERR_AUTHN_STEP_UP_REQUIRED with an RFC 9470 challenge, or a browser sent to a login that demands the second factor.',
    emittedBy: 'src/authn/step-up-stage.ts',
    fields: {
      requestId: { type: 'string', description: 'Request id.' },
      routeId: { type: 'string', description: 'Route that demands step-up.' },
      subject: { type: 'string', description: 'Principal that was refused.' },
      credential: { type: 'string', description: 'How the request was authenticated (`session`, `jwt`, `dpop`, `api_token`, `mtls`).' },
      reason: { type: "'no_mfa' | 'mfa_too_old' | 'mfa_time_in_future' | 'not_capable'", description: 'No second factor in the login; one older than `maxAgeSeconds`; a second-factor time further in the future than clock skew explains (forged freshness); a principal that cannot do MFA (service, API token, mTLS).' },
      maxAgeSeconds: { type: 'number', description: 'The route\'s `stepUp.maxAgeSeconds`.' },
      response: { type: "'challenge' | 'login_redirect'", description: 'What the client got: the 401 with `WWW-Authenticate`, or a redirect into a fresh login.' },
      clientAddress: { type: 'string', description: 'Client address after applying trusted proxies.' },
    },
  },
  'approval.requested': {
    description: 'A request on a route with `approval` was held: a pending approval bound to its requester, method, host, path, query, Content-Type, Content-Encoding and body digest was created, and the client got 403 ERR_APPROVAL_PENDING with its id.',
    emittedBy: 'src/approvals (approve stage)',
    fields: {
      approvalId: { type: 'string', description: 'Approval id (`apv_…`).' },
      routeId: { type: 'string', description: 'Route the request is for.' },
      requester: { type: 'string', description: 'Subject who asked.' },
      method: { type: 'string', description: 'Bound HTTP method.' },
      host: { type: 'string', description: 'Bound host.' },
      path: { type: 'string', description: 'Bound normalized path.' },
      query: { type: 'string', description: 'Bound query string (without `?`).' },
      bodySha256: { type: 'string', description: 'Hex SHA-256 of the bound body bytes.' },
      contentType: { type: 'string', description: 'Bound Content-Type (several fields joined by a line feed); absent when the request had none.', optional: true },
      contentEncoding: { type: 'string', description: 'Bound Content-Encoding, the same way; absent when the request had none.', optional: true },
      requestId: { type: 'string', description: 'Request id of the held request.' },
      expiresAt: { type: 'string', description: 'ISO 8601 time until which it may be decided.' },
    },
  },
  'approval.approved': {
    description: 'A second person holding one of the route\'s approver roles approved a pending request.',
    emittedBy: 'src/approvals (approvals API)',
    fields: {
      approvalId: { type: 'string', description: 'Approval id (`apv_…`).' },
      routeId: { type: 'string', description: 'Route the request is for.' },
      requester: { type: 'string', description: 'Subject who asked.' },
      method: { type: 'string', description: 'Bound HTTP method.' },
      host: { type: 'string', description: 'Bound host.' },
      path: { type: 'string', description: 'Bound normalized path.' },
      query: { type: 'string', description: 'Bound query string (without `?`).' },
      bodySha256: { type: 'string', description: 'Hex SHA-256 of the bound body bytes.' },
      contentType: { type: 'string', description: 'Bound Content-Type (several fields joined by a line feed); absent when the request had none.', optional: true },
      contentEncoding: { type: 'string', description: 'Bound Content-Encoding, the same way; absent when the request had none.', optional: true },
      approver: { type: 'string', description: 'Subject who approved.' },
      requestId: { type: 'string', description: 'Request id of the approving request.' },
    },
  },
  'approval.denied': {
    description: 'A second person holding one of the route\'s approver roles denied a pending request.',
    emittedBy: 'src/approvals (approvals API)',
    fields: {
      approvalId: { type: 'string', description: 'Approval id (`apv_…`).' },
      routeId: { type: 'string', description: 'Route the request is for.' },
      requester: { type: 'string', description: 'Subject who asked.' },
      method: { type: 'string', description: 'Bound HTTP method.' },
      host: { type: 'string', description: 'Bound host.' },
      path: { type: 'string', description: 'Bound normalized path.' },
      query: { type: 'string', description: 'Bound query string (without `?`).' },
      bodySha256: { type: 'string', description: 'Hex SHA-256 of the bound body bytes.' },
      contentType: { type: 'string', description: 'Bound Content-Type (several fields joined by a line feed); absent when the request had none.', optional: true },
      contentEncoding: { type: 'string', description: 'Bound Content-Encoding, the same way; absent when the request had none.', optional: true },
      approver: { type: 'string', description: 'Subject who denied.' },
      requestId: { type: 'string', description: 'Request id of the denying request.' },
    },
  },
  'approval.used': {
    description: 'An approved request was sent and let through; the approval is spent.',
    emittedBy: 'src/approvals (approve stage)',
    fields: {
      approvalId: { type: 'string', description: 'Approval id (`apv_…`).' },
      routeId: { type: 'string', description: 'Route the request is for.' },
      requester: { type: 'string', description: 'Subject who asked.' },
      method: { type: 'string', description: 'Bound HTTP method.' },
      host: { type: 'string', description: 'Bound host.' },
      path: { type: 'string', description: 'Bound normalized path.' },
      query: { type: 'string', description: 'Bound query string (without `?`).' },
      bodySha256: { type: 'string', description: 'Hex SHA-256 of the bound body bytes.' },
      contentType: { type: 'string', description: 'Bound Content-Type (several fields joined by a line feed); absent when the request had none.', optional: true },
      contentEncoding: { type: 'string', description: 'Bound Content-Encoding, the same way; absent when the request had none.', optional: true },
      approver: { type: 'string', description: 'Subject who had approved it.' },
      requestId: { type: 'string', description: 'Request id of the request that used it.' },
    },
  },
  'approval.released': {
    description: 'A request that had used an approval was refused before anything of it was sent upstream (per-identity rate limit, guard, identity, enrich, the forward stage, or the upstream pool before undici started writing it: connection refused or not made in time, total timeout while waiting for a connection, the client gone while it waited): the approval is approved again, with the same use window, for a retry of the same request. Once undici started writing a request the approval stays used, whatever the outcome.',
    emittedBy: 'src/approvals (approve stage, on the refusal)',
    fields: {
      approvalId: { type: 'string', description: 'Approval id (`apv_…`).' },
      routeId: { type: 'string', description: 'Route the request is for.' },
      requester: { type: 'string', description: 'Subject who asked.' },
      method: { type: 'string', description: 'Bound HTTP method.' },
      host: { type: 'string', description: 'Bound host.' },
      path: { type: 'string', description: 'Bound normalized path.' },
      query: { type: 'string', description: 'Bound query string (without `?`).' },
      bodySha256: { type: 'string', description: 'Hex SHA-256 of the bound body bytes.' },
      contentType: { type: 'string', description: 'Bound Content-Type (several fields joined by a line feed); absent when the request had none.', optional: true },
      contentEncoding: { type: 'string', description: 'Bound Content-Encoding, the same way; absent when the request had none.', optional: true },
      approver: { type: 'string', description: 'Subject who had approved it.' },
      requestId: { type: 'string', description: 'Request id of the refused request (the one `approval.used` named).' },
      code: { type: 'string', description: 'Error code the refused request got (`ERR_RATELIMIT_EXCEEDED`, `ERR_GATEWAY_UPSTREAM_UNAVAILABLE`, …).' },
      stage: { type: 'string', description: 'Pipeline stage that refused it (`rateLimit`, `guard`, `identity`, `enrich`, `forward`).' },
    },
  },
  'approval.refused': {
    description: 'A request carried an approval id that did not let it through: unknown, pending, denied, expired, already used, or bound to another requester, method, path, query, Content-Type, Content-Encoding or body.',
    emittedBy: 'src/approvals (approve stage)',
    fields: {
      approvalId: { type: 'string', description: 'The approval id sent (truncated when malformed).' },
      requestId: { type: 'string', description: 'Request id of the refused request.' },
      code: { type: 'string', description: 'Error code the client got.' },
      subject: { type: 'string', description: 'Subject who sent it.' },
      routeId: { type: 'string', description: 'Route of the refused request.' },
      method: { type: 'string', description: 'Its method.' },
      host: { type: 'string', description: 'Its host.' },
      path: { type: 'string', description: 'Its normalized path.' },
      query: { type: 'string', description: 'Its query string.' },
      bodySha256: { type: 'string', description: 'Hex SHA-256 of its body.' },
      contentType: { type: 'string', description: 'Its Content-Type, when it had one.', optional: true },
      contentEncoding: { type: 'string', description: 'Its Content-Encoding, when it had one.', optional: true },
      requester: { type: 'string', description: 'Requester the approval was made for, when the id is known.', optional: true },
    },
  },
  'gateway.request': {
    description: 'The access event: one per request that reached the gateway, including every early exit (404, 401, 403, 429, 5xx) and the request heads Node\'s HTTP parser refused (400, 408, 431). The audit log, metrics and anomaly detection subscribe to it.',
    emittedBy: 'src/gateway (record stage)',
    fields: {
      requestId: { type: 'string', description: 'Request id (X-Request-Id from a trusted proxy, else generated).' },
      traceId: { type: 'string', description: 'W3C trace id of the request.' },
      routeId: { type: 'string', description: 'Matched route; absent when no route matched.', optional: true },
      method: { type: 'string', description: 'HTTP method; empty when Node\'s HTTP parser refused the request head (stage `parse`).' },
      path: { type: 'string', description: 'Normalized request path, without query string; empty when the request was refused before its path was normalized (stage `parse` or `accept`, or a refused target).' },
      status: { type: 'number', description: 'Status code sent to the client.' },
      durationMs: { type: 'number', description: 'Milliseconds from accept to the end of the response.' },
      clientAddress: { type: 'string', description: 'Client address after applying trusted proxies (the TCP peer\'s at stage `parse`: no header was read).' },
      subject: { type: 'string', description: 'Principal id, when authentication succeeded: a directory id (`usr_…`, a client id, a SPIFFE id), or `<issuer>#<sub>` for a principal an external issuer names itself.', optional: true },
      issuer: { type: 'string', description: 'Issuer of the credential that authenticated the request (a JWT\'s `iss`), when it has one.', optional: true },
      errorCode: { type: 'string', description: 'Gatehouse error code when the request ended in an error.', optional: true },
      pathRefusal: { type: 'string', description: 'Why the request target was refused (`ERR_REQUEST_PATH_INVALID` only): one of the fixed names in [path normalization](path-normalization.md) (`above-root`, `semicolon`, `invalid-utf8`, …), never text from the request.', optional: true },
      pathOffset: { type: 'number', description: 'Character offset in the request target at which it was refused (`ERR_REQUEST_PATH_INVALID` only); the target itself is never recorded.', optional: true },
      stage: { type: 'string', description: 'Pipeline stage that ended the request (`forward` for a normal exchange; `parse` when Node\'s HTTP parser refused the request head, before the pipeline).' },
      bytesIn: { type: 'number', description: 'Request body bytes received from the client.' },
      bytesOut: { type: 'number', description: 'Response body bytes sent to the client.' },
      upstreamStatus: { type: 'number', description: 'Status the upstream answered, when it was reached.', optional: true },
      refusedCredential: { type: 'string', description: 'When the request was refused for a credential Gatehouse never issued (`ERR_AUTHN_API_TOKEN_INVALID`: an unknown, expired or revoked API token; `ERR_AUTHN_TOKEN_SIGNATURE`: a JWT whose signature does not verify; `ERR_AUTHN_SESSION_INVALID` for a session cookie no session answers to, malformed or unknown, also when it was answered with the login redirect): 16 hex digits of the SHA-256 of the Authorization header (of `__Host-gatehouse-session=<value>` for a session cookie), which tell one credential from another and reveal nothing of it. Counted by detection (`credentialGuessing`).', optional: true },
    },
  },

  'config.reloaded': {
    description: 'A new configuration was validated and is now serving new requests (requests in flight finish on the previous one).',
    emittedBy: 'src/core/config (loader / reload)',
    fields: {
      generation: { type: 'number', description: 'Configuration generation number, increasing by one per reload.' },
      source: { type: 'string', description: 'Where the configuration came from (file path, `admin-api`, `signal`).' },
      routes: { type: 'number', description: 'Number of routes in the new configuration.' },
      changedKeys: { type: 'string[]', description: 'Top-level configuration keys whose value changed.' },
    },
  },

  'config.rejected': {
    description: 'A configuration reload was refused; the previous configuration stays in force.',
    emittedBy: 'src/core/config (loader / reload)',
    fields: {
      source: { type: 'string', description: 'Where the refused configuration came from.' },
      problems: { type: '{ path: string; message: string }[]', description: 'Every validation problem, with the path of the offending key.' },
    },
  },

  'ratelimit.exceeded': {
    description: 'A request was refused with 429 because a rate limit was exhausted.',
    emittedBy: 'src/gateway/pipeline/edge-rate-limit.ts, src/gateway/pipeline/rate-limit.ts',
    fields: {
      scope: { type: "'edge' | 'identity'", description: '`edge`: per client address before authentication; `identity`: per identity and route.' },
      policy: { type: 'string', description: 'Name of the limit policy (also in the RateLimit-Policy header).' },
      requestId: { type: 'string', description: 'Request that was refused.' },
      clientAddress: { type: 'string', description: 'Client address after applying trusted proxies.' },
      subject: { type: 'string', description: 'Authenticated subject (identity scope only).', optional: true },
      routeId: { type: 'string', description: 'Matched route.', optional: true },
      limit: { type: 'number', description: 'Burst size of the limit that was exhausted.' },
      retryAfterMs: { type: 'number', description: 'Milliseconds until the same request would be allowed.' },
    },
  },

  'ratelimit.unavailable': {
    description: 'The rate-limit backend (Redis) could not be reached while deciding a request. Emitted at most once per 10 s per stage; `suppressed` counts the failures in between.',
    emittedBy: 'src/gateway/pipeline/edge-rate-limit.ts, src/gateway/pipeline/rate-limit.ts',
    fields: {
      scope: { type: "'edge' | 'identity'", description: 'Which limit could not be decided.' },
      failOpen: { type: 'boolean', description: '`true`: the requests were decided by each instance\'s in-memory limiter (rate and burst divided by `ratelimit.fallbackInstances`) until Redis answers again; `false`: they were refused with 503.' },
      detail: { type: 'string', description: 'Error message of the backend failure (no key names, no credentials).' },
      suppressed: { type: 'number', description: 'Failures since the previous event of this kind that did not produce their own event.' },
    },
  },
  'detect.alert': {
    description: 'Anomaly detection raised an alert (brute force, credential stuffing, refresh token reuse, MFA failures, denial burst, rate anomaly). Listed by `gatehouse alerts`.',
    emittedBy: 'src/detect',
    fields: {
      alertId: { type: 'string', description: 'Deterministic alert id (rule, key, window), the same on every instance.' },
      rule: { type: 'string', description: 'Rule that fired, e.g. `brute_force_account`.' },
      severity: { type: "'low' | 'medium' | 'high'", description: 'Severity of the rule.' },
      keyKind: { type: "'address' | 'subject' | 'account'", description: 'What the rule counts per.' },
      key: { type: 'string', description: 'Client address (an IPv6 client\'s /64, or its prefix for the prefix level of the address rules: `2001:db8:1::/48`), subject or account name.' },
      count: { type: 'number', description: 'Events counted in the window (observed rate for `rate_anomaly`).' },
      windowStart: { type: 'string', description: 'ISO 8601 start of the counting window.' },
      actions: { type: 'string[]', description: 'Actions taken: `alert`, `block`, `lock`.' },
    },
  },

  'detect.block.added': {
    description: 'A client address or identity is blocked until `expiresAt`; every instance refuses it with 403 ERR_SHIELD_BLOCKED.',
    emittedBy: 'src/detect',
    fields: {
      blockId: { type: 'string', description: 'Block id (for `gatehouse alerts unblock`).' },
      kind: { type: "'address' | 'subject'", description: 'What is blocked.' },
      value: { type: 'string', description: 'The blocked client address (a whole IPv6 /64 as `2001:db8:1:2::/64`, a prefix as `2001:db8:1::/48`) or subject.' },
      reason: { type: 'string', description: 'Rule or admin reason.' },
      alertId: { type: 'string', description: 'Alert that caused the block.', optional: true },
      createdBy: { type: 'string', description: '`detect:<rule>` or `admin:<name>`.' },
      expiresAt: { type: 'string', description: 'ISO 8601 end of the block.' },
    },
  },

  'detect.block.lifted': {
    description: 'A block was lifted by an admin before it expired.',
    emittedBy: 'src/detect',
    fields: {
      blockId: { type: 'string', description: 'Block id.' },
      kind: { type: "'address' | 'subject'", description: 'What was blocked.' },
      value: { type: 'string', description: 'The client address or subject.' },
      liftedBy: { type: 'string', description: 'Who lifted it (`admin:<name>`).' },
    },
  },

  'audit.checkpoint': {
    description: 'The audit log signed a checkpoint of its hash chain; export it (`gatehouse audit checkpoint export`) to anchor the log outside Gatehouse.',
    emittedBy: 'src/audit',
    fields: {
      chain: { type: 'string', description: 'Chain name.' },
      seq: { type: 'number', description: 'Sequence number of the last record covered.' },
      hash: { type: 'string', description: 'Hash of that record (hex SHA-256).' },
      kid: { type: 'string', description: 'Key id (JWK thumbprint) of the signing key.' },
    },
  },

  'policy.decision': {
    description: 'The authorize stage decided a request on an `access: policy` route. The decision id is what a denied client sees in its 403 body; the audit log resolves it to these reasons.',
    emittedBy: 'src/gateway/pipeline/authorize.ts (payload built by src/policy/decision-event.ts)',
    fields: {
      decisionId: { type: 'string', description: 'Unique id of the decision (also `data.decisionId` of ERR_POLICY_DENIED).' },
      requestId: { type: 'string', description: 'Request that was decided.', optional: true },
      routeId: { type: 'string', description: 'Route of the request.', optional: true },
      allowed: { type: 'boolean', description: 'Whether the request may proceed.' },
      basis: { type: 'string', description: '`permit`, `forbid`, `forbid-error` (a forbid failed to evaluate: denied, fail closed), `no-permit` (default deny) or `policy-set-missing`.' },
      policySet: { type: 'string', description: 'Policy set named by the route.', optional: true },
      policySetVersion: { type: 'string', description: 'Content hash of the set version that decided.', optional: true },
      reasons: { type: 'string[]', description: 'Ids of the determining policies.' },
      errors: { type: '{ policyId: string; message: string }[]', description: 'Policies that failed to evaluate.' },
      principal: { type: 'string', description: 'Cedar principal, e.g. `Gatehouse::User::"alice"`.' },
      action: { type: 'string', description: 'Cedar action, e.g. `Gatehouse::Action::"GET"`.' },
      resource: { type: 'string', description: 'Cedar resource, e.g. `Gatehouse::Route::"inbox"`.' },
      cached: { type: 'boolean', description: 'Answered from the decision cache.' },
      input: { type: 'PolicyReplayInput', description: 'Replayable inputs (`gatehouse policy diff --replay`): `principal` (kind, id, roles, the attributes the set reads), `action` (HTTP method), `resource` (routeId, upstream, path, host), `context` (the request context fields the set reads), `now` (Unix ms) and `recorded` (which attribute and Cedar context names were kept, or `all`). No credentials.', optional: true },
    },
  },
  'pki.ca.initialized': {
    description: 'The certificate authority was created (root and intermediate).',
    emittedBy: 'src/pki (ca init)',
    fields: {
      rootSerial: { type: 'string', description: 'Serial of the root certificate (hex).' },
      intermediateSerial: { type: 'string', description: 'Serial of the intermediate certificate (hex).' },
      keyAlgorithm: { type: 'string', description: 'Key algorithm of both CA keys.' },
    },
  },
  'pki.ca.root_key_exported': { description: 'The root key was exported (encrypted) for offline keeping.', emittedBy: 'src/pki (ca export-root)', fields: {} },
  'pki.ca.root_key_removed': { description: 'The root key was removed from the store (offline root).', emittedBy: 'src/pki (ca export-root --remove)', fields: {} },
  'pki.ca.intermediate_rotated': {
    description: 'A new intermediate CA issues from now on; the previous one stays trusted (and signs CRLs) until it expires. Every running instance that receives it reads the CA and CRLs from the store at once (src/pki/ca-change-subscription.ts).',
    emittedBy: 'src/pki (ca rotate-intermediate, published by the CLI)',
    fields: {
      intermediateSerial: { type: 'string', description: 'Serial of the new issuing intermediate (hex).' },
      previousSerial: { type: 'string', description: 'Serial of the intermediate it replaces (hex).' },
      notAfter: { type: 'string', description: 'Expiry of the new intermediate (ISO 8601).' },
    },
  },
  'pki.ca.root_rotation_prepared': {
    description: 'A new root CA (and an intermediate it signed) was made: trusted from now on next to the current root, issuing nothing until `ca rotate-root --activate`. Every running instance that receives it reads the CA from the store at once.',
    emittedBy: 'src/pki (ca rotate-root, published by the CLI)',
    fields: {
      rootSerial: { type: 'string', description: 'Serial of the new root (hex).' },
      currentRootSerial: { type: 'string', description: 'Serial of the root still in force (hex).' },
      notAfter: { type: 'string', description: 'Expiry of the new root (ISO 8601).' },
      // An audit reader sees a change of key type (`--key-type`) without opening the certificates.
      keyAlgorithm: { type: 'string', description: 'Key algorithm of the new root and its intermediate (`ECDSA-P256`, `ECDSA-P384`).' },
      currentKeyAlgorithm: { type: 'string', description: 'Key algorithm of the root still in force.' },
    },
  },
  'pki.ca.root_rotation_cancelled': {
    description: 'A prepared root was withdrawn before activation: no longer trusted (from each relying party\'s next refresh; running instances that receive it at once), its key deleted.',
    emittedBy: 'src/pki (ca rotate-root --cancel, published by the CLI)',
    fields: { rootSerial: { type: 'string', description: 'Serial of the withdrawn root (hex).' } },
  },
  'pki.ca.root_rotated': {
    description: 'The prepared root and its intermediate are in force: the intermediate issues from now on; the replaced root stays trusted while intermediates it signed are, and its key is gone from the store. Every running instance that receives it reads the CA and CRLs from the store at once.',
    emittedBy: 'src/pki (ca rotate-root --activate, published by the CLI)',
    fields: {
      rootSerial: { type: 'string', description: 'Serial of the root now in force (hex).' },
      previousRootSerial: { type: 'string', description: 'Serial of the root it replaces (hex).' },
      intermediateSerial: { type: 'string', description: 'Serial of the new issuing intermediate (hex).' },
    },
  },
  'pki.certificate.issued': {
    description: 'A workload certificate was issued.',
    emittedBy: 'src/pki (authority)',
    fields: {
      serial: { type: 'string', description: 'Serial of the new certificate.' },
      spiffeId: { type: 'string', description: 'SPIFFE id in the certificate.' },
      via: { type: "'bootstrap' | 'renewal' | 'internal'", description: 'How the requester proved its identity.' },
      notAfter: { type: 'string', description: 'Expiry (ISO 8601).' },
      previousSerial: { type: 'string', description: 'Certificate that authenticated a renewal.', optional: true },
    },
  },
  'pki.certificate.refused': {
    description: 'A certificate request was refused.',
    emittedBy: 'src/pki (authority)',
    fields: {
      code: { type: 'ErrorCode', description: 'Why (ERR_PKI_*).' },
      spiffeId: { type: 'string', description: 'Identity asked for, when known.', optional: true },
      detail: { type: 'string', description: 'Internal reason.', optional: true },
      clientAddress: { type: 'string', description: 'Address of the client that asked at `POST <apiPath>/issue` or `POST <apiPath>/renew` (after trusted proxies; the TCP peer\'s when the CA\'s handler runs without the gateway). Absent for internal issuance (CLI, sidecar in process).', optional: true },
      refusedCredential: { type: 'string', description: 'For `ERR_PKI_BOOTSTRAP_TOKEN_INVALID` (a bootstrap token malformed, unknown, used or expired): 16 hex digits of the SHA-256 of `bootstrap <token presented>` (not a prefix of the stored hash of a token), which tell one token from another and reveal nothing of it. Counted by detection (`credentialGuessing`) per `clientAddress`.', optional: true },
    },
  },
  'pki.certificate.revoked': {
    description: 'Certificates were revoked; the next CRL lists them. Every running instance that receives it reads the CRLs from the store at once.',
    emittedBy: 'src/pki (authority; cert revoke, published by the CLI)',
    fields: {
      serials: { type: 'string[]', description: 'Revoked serials.' },
      target: { type: 'string', description: 'What was asked to revoke: a serial or a SPIFFE id.' },
      reason: { type: 'RevocationReason', description: 'RFC 5280 reason.' },
    },
  },
  'pki.bootstrap_token.created': {
    description: 'A one-time bootstrap token was created for a workload identity.',
    emittedBy: 'src/pki (bootstrap-token create)',
    fields: {
      tokenId: { type: 'string', description: 'Token id (never the token).' },
      spiffeId: { type: 'string', description: 'Identity the token may obtain.' },
      expiresAt: { type: 'string', description: 'Expiry (ISO 8601).' },
    },
  },
  'pki.bootstrap_token.revoked': {
    description: 'Unused bootstrap tokens were revoked (deleted): an issuance presenting one is refused with ERR_PKI_BOOTSTRAP_TOKEN_INVALID.',
    emittedBy: 'src/pki (bootstrap-token revoke, cert revoke --id)',
    fields: {
      tokenIds: { type: 'string[]', description: 'Token ids revoked (never the tokens).' },
      target: { type: 'string', description: 'What was asked to revoke: a token id or a SPIFFE id.' },
    },
  },
  'pki.crl.published': {
    description: 'A new certificate revocation list was signed.',
    emittedBy: 'src/pki (authority)',
    fields: {
      number: { type: 'number', description: 'CRL number.' },
      entries: { type: 'number', description: 'Revoked certificates listed.' },
      nextUpdate: { type: 'string', description: 'nextUpdate (ISO 8601).' },
    },
  },
  'pki.peer.refused': {
    description: 'An mTLS peer certificate was refused (missing, expired, revoked, wrong CA or SPIFFE id).',
    emittedBy: 'src/pki (mTLS server guard)',
    fields: {
      code: { type: 'ErrorCode', description: 'Why (ERR_PKI_PEER_*).' },
      reason: { type: 'string', description: 'Internal reason.' },
      remoteAddress: { type: 'string', description: 'Peer address.', optional: true },
      spiffeId: { type: 'string', description: 'SPIFFE id in the refused certificate.', optional: true },
      serial: { type: 'string', description: 'Serial of the refused certificate.', optional: true },
    },
  },
  'pki.peer.accepted': {
    description: 'An mTLS peer certificate was verified and accepted.',
    emittedBy: 'src/pki (mTLS server guard)',
    fields: {
      spiffeId: { type: 'string', description: 'Verified SPIFFE id.' },
      serial: { type: 'string', description: 'Certificate serial.' },
      remoteAddress: { type: 'string', description: 'Peer address.', optional: true },
    },
  },
  'pki.rotation.completed': {
    description: 'A workload rotated to a new certificate.',
    emittedBy: 'src/pki (rotator)',
    fields: {
      spiffeId: { type: 'string', description: 'Identity rotated.' },
      serial: { type: 'string', description: 'New serial.' },
      notAfter: { type: 'string', description: 'Expiry of the new certificate (ISO 8601).' },
    },
  },
  'pki.rotation.failed': {
    description: 'A certificate rotation failed; it is retried with backoff.',
    emittedBy: 'src/pki (rotator)',
    fields: {
      spiffeId: { type: 'string', description: 'Identity whose rotation failed.' },
      code: { type: 'ErrorCode', description: 'Why.' },
      retryInMs: { type: 'number', description: 'Delay before the next attempt.' },
    },
  },
  'identity.login.succeeded': {
    description: 'A user completed sign-in (password, second factor when due, or federation) at the identity provider.',
    emittedBy: 'src/identity',
    fields: {
      subject: { type: 'string', description: 'User id (`usr_…`).' },
      username: { type: 'string', description: 'User name.' },
      clientId: { type: 'string', description: 'Client the sign-in was for.', optional: true },
      clientAddress: { type: 'string', description: 'Client address.' },
      amr: { type: 'string[]', description: 'Authentication methods (RFC 8176): `pwd`, `otp`, `mfa`, `fed`.' },
      federatedProvider: { type: 'string', description: 'External provider name when federated.', optional: true },
    },
  },
  'identity.login.failed': {
    description: 'A sign-in attempt failed. The client saw one generic message whatever the reason, except `mfa_not_enrolled` (only told after a correct password).',
    emittedBy: 'src/identity',
    fields: {
      username: { type: 'string', description: 'User name as typed (lower-cased, at most 256 characters).' },
      subject: { type: 'string', description: 'User id when the user exists.', optional: true },
      clientId: { type: 'string', description: 'Client the sign-in was for.', optional: true },
      clientAddress: { type: 'string', description: 'Client address.' },
      reason: { type: 'string', description: '`bad_credentials`, `unknown_user`, `locked`, `disabled`, `address_blocked`, `federation` (the external identity may not sign in here), `federation_link_conflict` (its verified e-mail names an account that already has another external identity: a takeover attempt, or an address reassigned at a provider) or `mfa_not_enrolled` (a step-up sign-in — the client asked for the second factor — of an account without one, which it may not enroll there: `identity.mfa.enrollDuringStepUp`).' },
      federatedProvider: { type: 'string', description: 'External provider name for a refused federated sign-in; `username` is then the e-mail it asserted.', optional: true },
    },
  },
  'identity.login.throttled': {
    description: 'A sign-in attempt for an account with recent failures was delayed (progressive delay).',
    emittedBy: 'src/identity',
    fields: {
      subject: { type: 'string', description: 'User id.' },
      clientAddress: { type: 'string', description: 'Client address.' },
      failures: { type: 'number', description: 'Consecutive failures so far.' },
      delayMs: { type: 'number', description: 'Delay applied.' },
    },
  },
  'identity.account.locked': {
    description: 'An account was locked after too many consecutive failed sign-ins.',
    emittedBy: 'src/identity',
    fields: {
      subject: { type: 'string', description: 'User id.' },
      clientAddress: { type: 'string', description: 'Address of the attempt that locked it.' },
      failures: { type: 'number', description: 'Failures counted.' },
      lockedUntil: { type: 'string', description: 'ISO 8601 end of the lock.' },
    },
  },
  'identity.address.blocked': {
    description: 'A client address was blocked from signing in after too many failures across accounts.',
    emittedBy: 'src/identity',
    fields: {
      clientAddress: { type: 'string', description: 'Blocked address.' },
      blockedUntil: { type: 'string', description: 'ISO 8601 end of the block.' },
    },
  },
  'identity.subject.blocked': {
    description: 'The identity provider refused a subject under a temporary block (detection or `gatehouse alerts block`), or one whose block it could not check (the store unreachable: refused, fail closed): no tokens from any grant (refresh, authorization code, client credentials: `invalid_grant`, or 503 `temporarily_unavailable`), no sign-in (the client gets `access_denied`), no userinfo (`invalid_token`), introspection answers `active: false`; a browser session of the subject is asked to sign in again at the authorization endpoint. A refused refresh token is not consumed.',
    emittedBy: 'src/identity (token endpoint, authorization, userinfo, introspection, sign-in pages)',
    fields: {
      subject: { type: 'string', description: 'The refused principal: a user id, or the client id of a service (client credentials).' },
      endpoint: { type: 'string', description: 'Where: `token`, `userinfo`, `authorization` (a session of the subject; sign-in asked again), `resume`, or `sign_in` (the password, federation or second-factor step).' },
      reason: { type: "'blocked' | 'unavailable'", description: 'An active block holds the subject, or the blocks could not be read.' },
      blockId: { type: 'string', description: 'The block (`alerts blocks` lists it, `alerts unblock --id` lifts it).', optional: true },
      blockedUntil: { type: 'string', description: 'ISO 8601 end of the block.', optional: true },
      clientId: { type: 'string', description: 'Client of the request.', optional: true },
      grantType: { type: 'string', description: 'Grant type at the token endpoint.', optional: true },
      clientAddress: { type: 'string', description: 'Client address.', optional: true },
    },
  },
  'identity.interaction.browser_mismatch': {
    description: 'A sign-in interaction (its pages and forms, or the resume at `/oidc/auth/<uid>`) was reached from a browser other than the one that started it, and refused with 403 ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH: interaction or resume cookies planted by a sibling subdomain (login CSRF by cookie tossing), or a sign-in begun before the upgrade that added the binding. Nothing was issued. Never carries cookie values.',
    emittedBy: 'src/identity (interaction router, resume check)',
    fields: {
      interactionId: { type: 'string', description: 'The interaction refused (its uid, as in `/oidc/interaction/<uid>`; not a cookie value).' },
      clientAddress: { type: 'string', description: 'Client address.' },
      reason: { type: "'no_cookie' | 'not_bound' | 'other_browser'", description: 'The browser sent no `__Host-gh_idp_browser` value (never started a sign-in here: typically the victim of planted cookies); no binding is stored for the interaction (expired, or begun before the upgrade); or the browser\'s value is not the one the interaction is bound to.' },
      step: { type: "'interaction' | 'resume'", description: 'Where: a sign-in page or form (`/oidc/interaction/<uid>/…`), or the resume (`/oidc/auth/<uid>`).' },
      clientId: { type: 'string', description: 'Client the interaction was for (sign-in pages and forms; the resume does not load the interaction).', optional: true },
    },
  },
  'identity.mfa.enrolled': {
    description: 'A user enrolled TOTP (and received new recovery codes).',
    emittedBy: 'src/identity',
    fields: {
      subject: { type: 'string', description: 'User id.' },
    },
  },
  'identity.mfa.verified': {
    description: 'A second factor was accepted at sign-in.',
    emittedBy: 'src/identity',
    fields: {
      subject: { type: 'string', description: 'User id.' },
      method: { type: 'string', description: '`totp` or `recovery_code`.' },
      remainingRecoveryCodes: { type: 'number', description: 'Unused recovery codes left (recovery_code only).', optional: true },
    },
  },
  'identity.mfa.failed': {
    description: 'A second factor was refused.',
    emittedBy: 'src/identity',
    fields: {
      subject: { type: 'string', description: 'User id.' },
      clientAddress: { type: 'string', description: 'Client address.' },
      reason: { type: 'string', description: '`invalid`, `replay` (a TOTP code of an already used time step) or `locked` (refused unchecked: the account is locked).' },
    },
  },
  'identity.token.issued': {
    description: 'The identity provider issued a token. Opaque token values are never included.',
    emittedBy: 'src/identity',
    fields: {
      tokenKind: { type: 'string', description: '`access_token`, `client_credentials`, `refresh_token` or `id_token`.' },
      clientId: { type: 'string', description: 'Client the token was issued to.' },
      subject: { type: 'string', description: 'User id, for user tokens.', optional: true },
      grantId: { type: 'string', description: 'Grant the token belongs to.', optional: true },
      audience: { type: 'string', description: 'Audience of a JWT access token.', optional: true },
      jti: { type: 'string', description: 'JWT id of a JWT access token (never set for opaque tokens, whose id is the secret).', optional: true },
    },
  },
  'identity.token.refreshed': {
    description: 'A refresh token was used (and rotated).',
    emittedBy: 'src/identity',
    fields: {
      clientId: { type: 'string', description: 'Client.' },
      subject: { type: 'string', description: 'User id.', optional: true },
      grantId: { type: 'string', description: 'Grant.' },
    },
  },
  'identity.token.revoked': {
    description: 'A token was revoked or destroyed (revocation endpoint, grant revocation, rotation).',
    emittedBy: 'src/identity',
    fields: {
      clientId: { type: 'string', description: 'Client of the token.', optional: true },
      grantId: { type: 'string', description: 'Grant of the token.', optional: true },
      tokenKind: { type: 'string', description: '`access_token`, `refresh_token` or `client_credentials`.' },
    },
  },
  'identity.client.auth_failed': {
    description: 'A client failed to authenticate (`invalid_client`) at the token, introspection or revocation endpoint: unknown client, wrong secret, or an assertion or certificate that is not its own.',
    emittedBy: 'src/identity',
    fields: {
      endpoint: { type: "'token' | 'introspection' | 'revocation'", description: 'Endpoint that refused it.' },
      clientId: { type: 'string', description: 'Client id it claimed (at most 200 characters), when it named one.', optional: true },
      clientAddress: { type: 'string', description: 'Client address.', optional: true },
      refusedCredential: { type: 'string', description: '16 hex digits of the SHA-256 of what it presented (the secret, the assertion, or the Basic `Authorization` header), which tell one credential from another and reveal nothing of it. Counted by detection (`credentialGuessing`).', optional: true },
      detail: { type: 'string', description: 'Why, as the identity provider says it (`invalid secret provided`, `client not found`, …).' },
    },
  },
  'identity.refresh.reused': {
    description: 'A rotated (already used) refresh token was presented again: likely theft. The whole grant is revoked.',
    emittedBy: 'src/identity',
    fields: {
      clientId: { type: 'string', description: 'Client.' },
      subject: { type: 'string', description: 'User id.', optional: true },
      grantId: { type: 'string', description: 'Revoked grant.' },
      clientAddress: { type: 'string', description: 'Address that presented the used token (the thief or the victim: whichever came second).', optional: true },
    },
  },
  'identity.grant.revoked': {
    description: 'A grant and all its tokens were revoked.',
    emittedBy: 'src/identity',
    fields: {
      grantId: { type: 'string', description: 'Grant.' },
      clientId: { type: 'string', description: 'Client.', optional: true },
      reason: { type: 'string', description: 'Provider route that revoked it (`token` for refresh reuse, `revocation`, `end_session`), or `gateway_logout` (the gateway\'s logout ended the browser\'s sign-in session).' },
    },
  },
  'identity.client.tokens_revoked': {
    description: 'A client was removed or disabled, and everything issued to it was ended: its grants with their codes, refresh and access tokens, and every JWT access token it was issued (with a grant or not), which the gateway refuses from now on (each also announced as `authn.invalidated` `token.revoked`).',
    emittedBy: 'src/identity',
    fields: {
      clientId: { type: 'string', description: 'Client.' },
      kind: { type: 'string', description: '`service` or `app`.' },
      reason: { type: 'string', description: '`removed` or `disabled`.' },
      grants: { type: 'number', description: 'Grants ended.' },
      accessTokens: { type: 'number', description: 'JWT access tokens that could still be accepted, now revoked at the gateway.' },
    },
  },
  'identity.keys.rotated': {
    description: 'A new token signing key became active; the previous one keeps verifying until `retireAt`. Other instances reload their keys.',
    emittedBy: 'src/identity',
    fields: {
      kid: { type: 'string', description: 'New key id.' },
      previousKid: { type: 'string', description: 'Retiring key id.', optional: true },
      retireAt: { type: 'string', description: 'ISO 8601 time the previous key leaves the JWKS.' },
      algorithm: { type: 'string', description: '`ES256`, `EdDSA` or `RS256`.' },
      previousRetired: { type: 'boolean', description: 'Set by `keys rotate --retire-previous`: every earlier key was withdrawn at once (`retireAt` is the rotation\'s time); tokens they signed are refused, IdP sign-in sessions end.', optional: true },
    },
  },
  'identity.api_token.created': {
    description: 'An API token was created (the token itself is never published).',
    emittedBy: 'src/identity',
    fields: {
      tokenId: { type: 'string', description: 'Token id (`tok_…`).' },
      ownerKind: { type: 'string', description: '`user` or `service`.' },
      ownerId: { type: 'string', description: 'Owner subject.' },
      roles: { type: 'string[]', description: 'Roles of the token.' },
      expiresAt: { type: 'string', description: 'ISO 8601 expiry.' },
    },
  },
  'identity.api_token.revoked': {
    description: 'An API token was revoked; caches must drop it.',
    emittedBy: 'src/identity',
    fields: {
      tokenId: { type: 'string', description: 'Token id.' },
      ownerKind: { type: 'string', description: '`user` or `service`.' },
      ownerId: { type: 'string', description: 'Owner subject.' },
    },
  },
  'principal.changed': {
    description: 'A user or service account changed in a way that affects authentication or authorization; caches on every instance drop the subject.',
    emittedBy: 'src/identity',
    fields: {
      subject: { type: 'string', description: 'User id or service client id.' },
      kind: { type: 'string', description: '`user` or `service`.' },
      change: { type: 'string', description: '`created`, `updated`, `disabled`, `enabled`, `removed`, `password`, `mfa_reset`, `secret_rotated` or `unlocked`.' },
    },
  },
};

/** Every event name, in table order. */
export const EVENT_NAMES = Object.keys(EVENT_TABLE) as EventName[];

/** True when `name` is a known event name (for input from config or the network). */
export function isEventName(name: string): name is EventName {
  return Object.hasOwn(EVENT_TABLE, name);
}
