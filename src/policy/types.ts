/**
 * Public types of the policy engine. The engine is pure: it takes plain values in and
 * gives plain values out, and never reads files, sockets or clocks on its own (the
 * caller passes `now`).
 */

/** Who is asking. Maps to `Gatehouse::User::"<id>"` or `Gatehouse::Service::"<id>"`. */
export interface PolicyPrincipal {
  kind: 'user' | 'service';
  id: string;
  /** Role names; each becomes a parent `Gatehouse::Role::"<name>"` (role-based rules). */
  roles: readonly string[];
  /** Attributes for attribute-based rules (`principal.department == "sales"`). JSON values only. */
  attributes?: Readonly<Record<string, unknown>>;
}

/** What is being accessed. Maps to `Gatehouse::Route::"<routeId>"`. */
export interface PolicyResource {
  routeId: string;
  /** Name of the upstream service behind the route: parent `Gatehouse::Upstream::"<upstream>"`, and `resource.upstream`. */
  upstream?: string;
  /** Route path prefix, exposed as `resource.path`. */
  path?: string;
  host?: string;
}

/**
 * Facts about the request. Only the fields a policy set references are part of the
 * decision cache key, so a set that never mentions `now` caches across time.
 */
export interface PolicyRequestContext {
  /** Client address (after trusted proxies); `context.clientAddress` is a Cedar `ip` value. */
  clientAddress?: string;
  /** Request path as routed, `context.path`. */
  path?: string;
  host?: string;
  /** `session` | `jwt` | `api_token` | `mtls` | `dpop` … (`context.authMethod`). */
  authMethod?: string;
  amr?: readonly string[];
  /** Unix seconds of the login, if known. */
  authTime?: number;
  /** Unix seconds of the last multi-factor authentication, if any. */
  mfaTime?: number;
  /** SPIFFE id of the mTLS peer, if the request came over mutual TLS. */
  spiffeId?: string;
  /** Issuer of the credential. */
  issuer?: string;
  /** Selected request headers (lower-case names), `context.headers["x-tenant"]`. */
  headers?: Readonly<Record<string, string>>;
}

export interface AuthorizationRequest {
  /** Name of the policy set; undefined or unknown → deny (fail closed). */
  policySet: string | undefined;
  principal: PolicyPrincipal;
  /** HTTP method (`GET`…) or a named operation the route declares. */
  action: string;
  resource: PolicyResource;
  context: PolicyRequestContext;
  /** Unix milliseconds; defaults to the engine's clock. */
  now?: number;
}

export interface PolicyError {
  policyId: string;
  message: string;
}

/** Why a decision came out the way it did. */
export type DecisionBasis =
  /** At least one permit applied and no forbid. */
  | 'permit'
  /** At least one forbid applied. */
  | 'forbid'
  /**
   * A permit applied but a forbid failed to evaluate. Cedar skips a failing policy, which
   * would let an erroring forbid allow; Gatehouse fails closed instead.
   */
  | 'forbid-error'
  /** Nothing applied: default deny. */
  | 'no-permit'
  /** The route names no policy set, or the set is not loaded. */
  | 'policy-set-missing';

export interface PolicyDecision {
  /** Unique id of this decision; returned to denied clients and recorded in audit. */
  readonly id: string;
  readonly allowed: boolean;
  readonly basis: DecisionBasis;
  readonly policySet: string | undefined;
  /** Content hash of the policy set version that decided. */
  readonly policySetVersion: string | undefined;
  /** Ids of the determining policies (the permits that allowed, or the forbids that denied). */
  readonly reasons: readonly string[];
  /** Policies that failed to evaluate (they are skipped, which can only deny more). */
  readonly errors: readonly PolicyError[];
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** True when the result came from the decision cache. */
  readonly cached: boolean;
  /** Unix milliseconds. */
  readonly at: number;
}

/** Directory data that shapes entities: role hierarchy and route grouping. */
export interface PolicyDirectory {
  /** role → roles it inherits from (`admin` → [`editor`] makes an admin also an editor). */
  roles?: Readonly<Record<string, readonly string[]>>;
  /** route group → route ids; a route is `in Gatehouse::RouteGroup::"<group>"`. */
  routeGroups?: Readonly<Record<string, readonly string[]>>;
  /** Named operations per route id: the action becomes the operation, a child of its method. */
  operations?: Readonly<Record<string, readonly OperationDeclaration[]>>;
}

export interface OperationDeclaration {
  name: string;
  method: string;
  /** Exact path, or a prefix ending in `*`. */
  path: string;
}

/** Text of one policy set as read from `policies/<set>.cedar` (+ optional schema). */
export interface PolicySetSource {
  /** Cedar policies. */
  policies: string;
  /** Cedar schema (human-readable `.cedarschema` text or JSON). When present, policies are validated against it. */
  schema?: string | Record<string, unknown>;
  /** Where it came from, for messages (e.g. the file name). */
  origin?: string;
}
