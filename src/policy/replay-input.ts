/**
 * The replayable inputs of a decision, for the `policy.decision` event: what the request
 * was, reduced to the principal attributes and context fields the deciding set reads (the
 * same analysis that keys the decision cache). With them, the audit log can answer "what
 * would this decision be under other policies" without keeping whole identities.
 *
 * Values are recorded as Cedar saw them (sanitized by cedar-value.ts), so replaying them
 * gives the engine the same entities again.
 */
import type { PolicyReplayInput } from '../core/events.ts';
import { toCedarRecord, toCedarValue } from './cedar-value.ts';
import type { References } from './references.ts';
import type { AuthorizationRequest, PolicyRequestContext } from './types.ts';

export type { PolicyReplayInput };

/** Cedar context field → the request context field it is built from (entities.ts buildContext). */
const CONTEXT_SOURCE: Readonly<Record<string, keyof PolicyRequestContext>> = {
  clientAddress: 'clientAddress',
  path: 'path',
  host: 'host',
  authMethod: 'authMethod',
  amr: 'amr',
  authAge: 'authTime',
  mfaAge: 'mfaTime',
  spiffeId: 'spiffeId',
  issuer: 'issuer',
  headers: 'headers',
};

const EVERYTHING: References = { context: 'all', principalAttributes: 'all' };

/**
 * @param references what the deciding set reads; undefined when that is not known (no set
 *   decided, or it changed since): everything is recorded then, so a replay lacks nothing.
 * @param nowMs when the decision was made.
 */
export function replayInputFor(req: AuthorizationRequest, references: References | undefined, nowMs: number, options: { path?: boolean } = {}): PolicyReplayInput {
  let refs = references ?? EVERYTHING;
  // The path also picks the action when the route declares operations: without it a replay
  // decides a plain method where the engine decided the operation (and its forbids).
  if (options.path === true && refs.context !== 'all' && !refs.context.has('path')) refs = { ...refs, context: new Set([...refs.context, 'path']) };
  const attrs = req.principal.attributes ?? {};
  let attributes: Record<string, unknown>;
  if (refs.principalAttributes === 'all') {
    attributes = { ...toCedarRecord(attrs) };
  } else {
    attributes = {};
    for (const name of refs.principalAttributes) {
      const v = Object.hasOwn(attrs, name) ? toCedarValue(attrs[name]) : undefined;
      if (v !== undefined) attributes[name] = v;
    }
  }

  const context: Record<string, unknown> = {};
  const c = req.context;
  const fields = refs.context === 'all' ? Object.values(CONTEXT_SOURCE) : [...refs.context].map((f) => CONTEXT_SOURCE[f]).filter((f) => f !== undefined);
  for (const f of fields) {
    const v = c[f];
    if (v !== undefined) context[f] = Array.isArray(v) ? [...v] : typeof v === 'object' ? { ...v } : v;
  }

  const r = req.resource;
  const resource: PolicyReplayInput['resource'] = { routeId: r.routeId };
  if (r.upstream !== undefined) resource.upstream = r.upstream;
  if (r.path !== undefined) resource.path = r.path;
  if (r.host !== undefined) resource.host = r.host;
  return {
    principal: { kind: req.principal.kind, id: req.principal.id, roles: [...req.principal.roles], attributes },
    action: req.action,
    resource,
    context,
    now: nowMs,
    recorded: {
      attributes: refs.principalAttributes === 'all' ? 'all' : [...refs.principalAttributes].sort(),
      context: refs.context === 'all' ? 'all' : [...refs.context].sort(),
    },
  };
}

/**
 * Which facts `references` reads that `recorded` does not hold: a replay that needs them
 * sees them as absent, so its answer may differ for that reason alone.
 */
export function unrecordedReads(references: References, recorded: PolicyReplayInput['recorded']): string[] {
  const missing: string[] = [];
  const check = (kind: string, reads: ReadonlySet<string> | 'all', have: readonly string[] | 'all') => {
    if (have === 'all') return;
    if (reads === 'all') { missing.push(`${kind}.*`); return; }
    for (const name of reads) if (!have.includes(name) && !(kind === 'context' && (name === 'method' || name === 'now'))) missing.push(`${kind}.${name}`);
  };
  check('principal', references.principalAttributes, recorded.attributes);
  check('context', references.context, recorded.context);
  return missing.sort();
}
