/**
 * Turns an authorization request into Cedar's principal, action, resource, context and
 * entities. The entity model:
 *
 *   Gatehouse::User::"alice"  in  Gatehouse::Role::"mail-user"  in  Gatehouse::Role::"…"
 *   Gatehouse::Service::"mail-api"  in  Gatehouse::Role::"…"
 *   Gatehouse::Route::"inbox"  in  Gatehouse::RouteGroup::"mail", Gatehouse::Upstream::"mail-store"
 *   Gatehouse::Action::"GET"  in  Gatehouse::Action::"read"     (HEAD, OPTIONS too)
 *   Gatehouse::Action::"POST" in  Gatehouse::Action::"write"    (PUT, PATCH, DELETE too)
 *   Gatehouse::Action::"<operation>"  in  Gatehouse::Action::"<its method>"
 */
import { isIP } from 'node:net';
import type { CedarValueJson, EntityJson } from './cedar.ts';
import { toCedarRecord } from './cedar-value.ts';
import type { AuthorizationRequest, PolicyDirectory } from './types.ts';

export const NS = 'Gatehouse';
export const TYPE_USER = `${NS}::User`;
export const TYPE_SERVICE = `${NS}::Service`;
export const TYPE_ROLE = `${NS}::Role`;
export const TYPE_ROUTE = `${NS}::Route`;
export const TYPE_ROUTE_GROUP = `${NS}::RouteGroup`;
export const TYPE_UPSTREAM = `${NS}::Upstream`;
export const TYPE_ACTION = `${NS}::Action`;

interface Uid { type: string; id: string }

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Entity-uid text as Cedar prints it, for decisions and explanations. */
export function uidText(uid: Uid): string {
  return `${uid.type}::${JSON.stringify(uid.id)}`;
}

/** An operation with its path lower-cased: `prefix` for `…*` paths, else `exact` (without a trailing slash). */
interface CompiledOperation { name: string; method: string; prefix?: string; exact?: string }

/** Directory data compiled for fast lookups; rebuilt when roles or groups change. */
export class CompiledDirectory {
  /** role → the Role entities needed to evaluate `in` for it (itself and its ancestors). */
  readonly #roleClosure = new Map<string, ReadonlyMap<string, EntityJson>>();
  readonly #groupsOfRoute = new Map<string, Uid[]>();
  readonly #operations = new Map<string, readonly CompiledOperation[]>();

  constructor(dir: PolicyDirectory) {
    const declared = dir.roles ?? {};
    // Own keys only: a parent role named `constructor` or `toString` is a role, not Object's method.
    const roles = (role: string): readonly string[] => (Object.hasOwn(declared, role) ? declared[role]! : []);
    const entityOf = (role: string): EntityJson => ({
      uid: { type: TYPE_ROLE, id: role },
      attrs: {},
      parents: roles(role).map((p) => ({ type: TYPE_ROLE, id: p })),
    });
    for (const role of Object.keys(declared)) {
      const seen = new Map<string, EntityJson>();
      const stack = [role];
      while (stack.length > 0) {
        const r = stack.pop()!;
        if (seen.has(r)) continue;
        seen.set(r, entityOf(r));
        stack.push(...roles(r));
      }
      this.#roleClosure.set(role, seen);
    }
    for (const [group, routes] of Object.entries(dir.routeGroups ?? {})) {
      for (const route of routes) {
        const list = this.#groupsOfRoute.get(route) ?? [];
        list.push({ type: TYPE_ROUTE_GROUP, id: group });
        this.#groupsOfRoute.set(route, list);
      }
    }
    for (const [routeId, ops] of Object.entries(dir.operations ?? {})) {
      this.#operations.set(routeId, ops.map((op) => {
        const path = op.path.toLowerCase();
        return path.endsWith('*')
          ? { name: op.name, method: op.method, prefix: path.slice(0, -1) }
          : { name: op.name, method: op.method, exact: path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path };
      }));
    }
  }

  /** The named operation a request matches, if the route declares one. */
  operationFor(routeId: string, method: string, path: string | undefined): string | undefined {
    const ops = this.#operations.get(routeId);
    if (ops === undefined || path === undefined) return undefined;
    // Upstream routers commonly ignore case and a trailing slash (Express, ASP.NET by default):
    // `/docs/EXPORT/` must be the `export` operation too, or its forbids are walked around.
    const p = path.toLowerCase();
    for (const op of ops) {
      if (op.method !== method) continue;
      if (op.prefix !== undefined ? p.startsWith(op.prefix) : p === op.exact || p === `${op.exact}/`) return op.name;
    }
    return undefined;
  }

  /** Whether the route declares named operations (then the request path decides the action). */
  hasOperations(routeId: string): boolean {
    return this.#operations.has(routeId);
  }

  roleEntities(roles: readonly string[], into: Map<string, EntityJson>): void {
    for (const role of roles) {
      const closure = this.#roleClosure.get(role);
      if (closure) for (const [name, e] of closure) into.set(name, e);
    }
  }

  groupsOf(routeId: string): readonly Uid[] {
    return this.#groupsOfRoute.get(routeId) ?? [];
  }
}

/** Resolved action: the operation name if one matched, else the HTTP method. */
export function resolveAction(dir: CompiledDirectory, req: AuthorizationRequest): string {
  return dir.operationFor(req.resource.routeId, req.action, req.context.path) ?? req.action;
}

export function principalUid(req: AuthorizationRequest): Uid {
  return { type: req.principal.kind === 'service' ? TYPE_SERVICE : TYPE_USER, id: req.principal.id };
}

export function resourceUid(req: AuthorizationRequest): Uid {
  return { type: TYPE_ROUTE, id: req.resource.routeId };
}

/** The action's id and the ids of its ancestors, as the entities below make them. */
export function actionAncestors(action: string, method: string): string[] {
  const group = READ_METHODS.has(method) ? 'read' : 'write';
  return action === method ? [action, group] : [action, method, group];
}

function actionEntities(action: string, method: string): EntityJson[] {
  const methodEntity: EntityJson = {
    uid: { type: TYPE_ACTION, id: method },
    attrs: {},
    parents: [{ type: TYPE_ACTION, id: READ_METHODS.has(method) ? 'read' : 'write' }],
  };
  if (action === method) return [methodEntity];
  return [{ uid: { type: TYPE_ACTION, id: action }, attrs: {}, parents: [{ type: TYPE_ACTION, id: method }] }, methodEntity];
}

/** All entities Cedar needs for this request. */
export function buildEntities(dir: CompiledDirectory, req: AuthorizationRequest, action: string): EntityJson[] {
  const roles = new Map<string, EntityJson>();
  dir.roleEntities(req.principal.roles, roles);
  const principal: EntityJson = {
    uid: principalUid(req),
    attrs: toCedarRecord(req.principal.attributes ?? {}),
    parents: req.principal.roles.map((r) => ({ type: TYPE_ROLE, id: r })),
  };
  const r = req.resource;
  const resourceAttrs: Record<string, CedarValueJson> = { id: r.routeId };
  if (r.upstream !== undefined) resourceAttrs.upstream = r.upstream;
  if (r.path !== undefined) resourceAttrs.path = r.path;
  if (r.host !== undefined) resourceAttrs.host = r.host;
  const parents: Uid[] = [...dir.groupsOf(r.routeId)];
  if (r.upstream !== undefined) parents.push({ type: TYPE_UPSTREAM, id: r.upstream });
  const resource: EntityJson = { uid: resourceUid(req), attrs: resourceAttrs, parents };
  return [principal, resource, ...actionEntities(action, req.action), ...roles.values()];
}

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * An address as Cedar's ip() accepts it, or undefined. Cedar refuses a zone id (`fe80::1%eth0`,
 * how a link-local peer can be reported) and IPv4-mapped IPv6 (`::ffff:10.1.2.3`) and would
 * fail the whole decision: the zone is dropped, and a mapped address is its IPv4 address, so
 * `isInRange(ip("10.0.0.0/8"))` holds for it as for the IPv4 peer it is.
 */
function cedarIp(address: string): string | undefined {
  const pct = address.indexOf('%');
  const bare = pct === -1 ? address : address.slice(0, pct);
  const family = isIP(bare);
  if (family !== 6) return family === 4 ? bare : undefined;
  const host = URL.parse(`http://[${bare}]/`)?.hostname;
  if (host === undefined) return undefined;
  const v6 = host.slice(1, -1);
  const mapped = MAPPED_HEX.exec(v6);
  if (mapped === null) return v6;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** How far ahead of our clock a login or MFA time may be and still count (clock skew), in seconds. */
export const MAX_FUTURE_AUTH_SKEW_SEC = 60;

function age(nowSec: number, then: number | undefined): number | undefined {
  if (then === undefined || !Number.isSafeInteger(then)) return undefined;
  // A time further ahead than clock skew explains is not a fact: as age 0 it would keep
  // `context.mfaAge < 300` true until long after the real login (an issuer's `auth_time`).
  if (then - nowSec > MAX_FUTURE_AUTH_SKEW_SEC) return undefined;
  return Math.max(0, nowSec - then);
}

/**
 * The Cedar context record. Absent facts are absent fields (test with `context has mfaAge`),
 * never placeholder values a policy could mistake for real ones.
 */
export function buildContext(req: AuthorizationRequest, method: string, nowMs: number): Record<string, CedarValueJson> {
  const c = req.context;
  const nowSec = Math.floor(nowMs / 1000);
  const out: Record<string, CedarValueJson> = { method, now: nowSec };
  // Cedar's ip() fails the whole request on a malformed address; a bad address is simply absent.
  const ip = c.clientAddress === undefined ? undefined : cedarIp(c.clientAddress);
  if (ip !== undefined) out.clientAddress = { __extn: { fn: 'ip', arg: ip } };
  if (c.path !== undefined) out.path = c.path;
  if (c.host !== undefined) out.host = c.host;
  if (c.authMethod !== undefined) out.authMethod = c.authMethod;
  if (c.amr !== undefined) out.amr = [...c.amr];
  const authAge = age(nowSec, c.authTime);
  if (authAge !== undefined) out.authAge = authAge;
  const mfaAge = age(nowSec, c.mfaTime);
  if (mfaAge !== undefined) out.mfaAge = mfaAge;
  if (c.spiffeId !== undefined) out.spiffeId = c.spiffeId;
  if (c.issuer !== undefined) out.issuer = c.issuer;
  if (c.headers !== undefined) out.headers = toCedarRecord(c.headers);
  return out;
}
