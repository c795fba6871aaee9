/**
 * Maps a bus envelope to an audit draft: lifts who / what / on what / with what outcome
 * into columns and keeps the whole payload, redacted, as details.
 *
 * Any event name is accepted (the audit log must not lose an event because its mapping
 * is not written yet): unknown events are recorded with generic columns.
 */
import type { AuditDraft, AuditOutcome } from './record.ts';
import type { Redactor } from './redact.ts';

/** The envelope fields the audit log needs (any bus envelope satisfies it). */
export interface AuditEnvelope {
  id: string;
  time: string;
  instance: string;
  name: string;
  payload: unknown;
}

// toWellFormed: a lone surrogate (from a hostile subject or path) could not be canonicalized, and one bad record must not block the chain.
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v.toWellFormed() : null);

export function outcomeOf(name: string, p: Record<string, unknown>): AuditOutcome {
  if (name === 'gateway.request') {
    const status = typeof p.status === 'number' ? p.status : 0;
    // The login redirect is the browser's 401: an unauthenticated (or forged-cookie) request refused.
    if (status === 401 || status === 403 || status === 429 || p.errorCode === 'ERR_AUTHN_LOGIN_REDIRECT') return 'denied';
    if (status >= 500 || status === 0) return 'error';
    if (status >= 400) return 'failure';
    // A response cut off after its status line (upstream failed mid-body) carries the error's code.
    if (p.errorCode !== undefined) return 'error';
    return 'success';
  }
  if (name === 'policy.decision') return p.allowed === true ? 'success' : 'denied';
  if (name === 'ratelimit.exceeded' || name.endsWith('.blocked') || name.endsWith('.locked') || name.endsWith('.throttled')) return 'denied';
  // A request refused for want of a fresh second factor, an approval a second person refused, a
  // sign-in reached from another browser than the one that started it (403).
  if (name === 'authn.step_up.required' || name === 'approval.denied' || name === 'identity.interaction.browser_mismatch') return 'denied';
  // A certificate refused because its identity is under a block is a denial (`audit query --outcome denied`), not a failed request.
  if (name === 'pki.certificate.refused' && p.code === 'ERR_PKI_IDENTITY_BLOCKED') return 'denied';
  if (/\.(failed|rejected|refused|reused|unavailable)$/.test(name)) return 'failure';
  if (name.startsWith('detect.') || name.startsWith('audit.')) return 'info';
  return 'success';
}

export function actorOf(name: string, p: Record<string, unknown>): { actor: string | null; kind: string | null } {
  const subject = str(p.subject) ?? str(p.ownerId);
  if (name === 'gateway.request' || name === 'ratelimit.exceeded') {
    return subject ? { actor: subject, kind: str(p.actorKind) ?? 'subject' } : { actor: null, kind: 'anonymous' };
  }
  if (name === 'policy.decision') return policyActor(p);
  // Detection is who acted; what it acted on (the alert's key) stays in details.
  if (name === 'detect.alert' && str(p.rule)) return { actor: `detect:${str(p.rule)!}`, kind: 'system' };
  if (subject) return { actor: subject, kind: str(p.ownerKind) ?? str(p.kind) ?? 'user' };
  // A failed login names an account that may not exist: the name is the actor.
  if (str(p.username)) return { actor: str(p.username), kind: 'account' };
  if (str(p.clientId)) return { actor: str(p.clientId), kind: 'client' };
  if (str(p.spiffeId)) return { actor: str(p.spiffeId), kind: 'service' };
  if (str(p.liftedBy) ?? str(p.createdBy)) return { actor: str(p.liftedBy) ?? str(p.createdBy), kind: 'system' };
  return { actor: null, kind: 'system' };
}

/**
 * The decision's principal by the id every other record of it carries (`usr_…`, a client id,
 * `<issuer>#<sub>`), so that `audit query --actor usr_…` finds its policy decisions too; the
 * Cedar entity (`Gatehouse::User::"usr_…"`) stays in details.principal.
 */
function policyActor(p: Record<string, unknown>): { actor: string | null; kind: string | null } {
  const input = p.input;
  const principal = typeof input === 'object' && input !== null ? (input as Record<string, unknown>).principal : undefined;
  if (typeof principal === 'object' && principal !== null) {
    const { id, kind } = principal as Record<string, unknown>;
    if (str(id)) return { actor: str(id), kind: str(kind) ?? 'principal' };
  }
  const uid = /^Gatehouse::(\w+)::"((?:[^"\\]|\\.)*)"$/.exec(str(p.principal) ?? '');
  if (uid && !uid[2]!.includes('\\')) return { actor: uid[2]!, kind: uid[1]!.toLowerCase() };
  return { actor: str(p.principal), kind: 'principal' };
}

/**
 * Detection keys (a client address, a subject, an account name) are identifiers, not secrets,
 * though the field is called `key`: whole-value redaction under that name hid whom an alert was
 * about from the audit log. The string rules (JWTs, credentials in text) still apply.
 */
export function detailsOf(name: string, payload: unknown, redactor: Redactor): unknown {
  const details = redactor.value(payload);
  if (name === 'detect.alert' && typeof payload === 'object' && payload !== null && typeof details === 'object' && details !== null) {
    const p = payload as Record<string, unknown>;
    if (typeof p.key === 'string' && (p.keyKind === 'address' || p.keyKind === 'subject' || p.keyKind === 'account')) {
      (details as Record<string, unknown>).key = redactor.string(p.key.toWellFormed());
    }
  }
  return details;
}

export function resourceOf(name: string, p: Record<string, unknown>): string | null {
  if (name === 'gateway.request') {
    const route = str(p.routeId);
    // Nothing known (a head Node's parser refused has no method, path or route): no resource.
    return `${route ? `route:${route} ` : ''}${str(p.method) ?? ''} ${str(p.path) ?? ''}`.trim() || null;
  }
  if (name === 'policy.decision') return str(p.resource);
  return str(p.routeId) ?? str(p.resource) ?? str(p.serial) ?? str(p.grantId) ?? str(p.tokenId) ?? str(p.blockId) ?? str(p.alertId)
    ?? (typeof p.chain === 'string' ? `chain:${p.chain}` : null) ?? str(p.value) ?? str(p.source);
}

/**
 * @example
 *   writer.append(draftFromEnvelope(envelope, redactor));
 */
export function draftFromEnvelope(e: AuditEnvelope, redactor: Redactor): AuditDraft {
  const payload = (typeof e.payload === 'object' && e.payload !== null ? e.payload : { value: e.payload }) as Record<string, unknown>;
  const { actor, kind } = actorOf(e.name, payload);
  const reasons = Array.isArray(payload.reasons) ? payload.reasons.filter((r): r is string => typeof r === 'string') : null;
  const time = Date.parse(e.time);
  // Every column taken from the payload is redacted like details: an export sends the columns as
  // they are (syslog structured data, OTLP attributes), and "redacted before stored" must hold for them too.
  const text = (v: unknown) => { const t = str(v); return t === null ? null : redactor.string(t); };
  return {
    time: Number.isFinite(time) ? time : Date.now(),
    instance: e.instance.toWellFormed(),
    event: e.name.toWellFormed(),
    eventId: e.id.toWellFormed(),
    requestId: text(payload.requestId),
    traceId: text(payload.traceId),
    actor: actor === null ? null : redactor.string(actor),
    actorKind: kind,
    action: e.name,
    resource: (() => { const r = resourceOf(e.name, payload); return r === null ? null : redactor.string(r); })(),
    outcome: outcomeOf(e.name, payload),
    decisionId: text(payload.decisionId),
    reasons: reasons ? JSON.stringify(reasons.map((r) => redactor.string(r))) : null,
    clientAddress: text(payload.clientAddress) ?? text(payload.remoteAddress),
    details: JSON.stringify(detailsOf(e.name, payload, redactor)),
  };
}
