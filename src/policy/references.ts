/**
 * Finds which request facts a policy set can read, so the decision cache keys on exactly
 * those and nothing else. A set that never mentions `context.now` keeps its decisions
 * across time; one that checks `context.clientAddress` caches per address.
 *
 * The analysis walks Cedar's JSON form of each policy. It is conservative: whenever an
 * attribute is read through anything other than `principal`, `resource`, `action` or
 * `context` directly (an entity literal, an if-then-else producing an entity…), it gives
 * up and reports that all context fields and all principal attributes matter.
 */
import type { PolicyJson } from './cedar.ts';

export interface References {
  /** Top-level context fields read, or 'all'. */
  readonly context: ReadonlySet<string> | 'all';
  /** Top-level principal attributes read, or 'all'. */
  readonly principalAttributes: ReadonlySet<string> | 'all';
}

interface Acc {
  context: Set<string> | 'all';
  principal: Set<string> | 'all';
}

type Node = Record<string, unknown>;

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function opaque(acc: Acc): void {
  acc.context = 'all';
  acc.principal = 'all';
}

function record(acc: Acc, variable: unknown, attr: string): void {
  if (variable === 'context' && acc.context !== 'all') acc.context.add(attr);
  if (variable === 'principal' && acc.principal !== 'all') acc.principal.add(attr);
}

/** Handles `x.a.b` and `x has a.b`: finds the innermost operand and the first attribute name. */
function visitAccess(acc: Acc, operand: unknown, firstAttr: string): void {
  let inner = operand;
  let attr = firstAttr;
  while (isNode(inner) && isNode(inner['.'])) {
    const dot = inner['.'] as Node;
    attr = String(dot.attr);
    inner = dot.left;
  }
  if (isNode(inner) && typeof inner.Var === 'string') {
    record(acc, inner.Var, attr);
    return;
  }
  // Attribute of something computed: could be any entity, so any attribute may matter.
  opaque(acc);
  visit(acc, inner);
}

function visit(acc: Acc, e: unknown): void {
  if (Array.isArray(e)) {
    for (const x of e) visit(acc, x);
    return;
  }
  if (!isNode(e)) return;
  if ('Value' in e) return; // literals (an entity literal alone reads no attribute)
  if (typeof e.Var === 'string') {
    // `context` used as a whole value (compared, passed to a function): every field matters.
    if (e.Var === 'context') acc.context = 'all';
    return;
  }
  const dot = e['.'];
  if (isNode(dot)) {
    visitAccess(acc, dot.left, String(dot.attr));
    return;
  }
  const has = e.has;
  if (isNode(has)) {
    const attr = Array.isArray(has.attr) ? String(has.attr[0]) : String(has.attr);
    visitAccess(acc, has.left, attr);
    return;
  }
  for (const key of Object.keys(e)) visit(acc, e[key]);
}

/** The facts a set of policies (in Cedar JSON form) can read. */
export function findReferences(policies: readonly PolicyJson[]): References {
  const acc: Acc = { context: new Set(), principal: new Set() };
  for (const p of policies) {
    for (const clause of p.conditions) visit(acc, clause.body);
  }
  return { context: acc.context, principalAttributes: acc.principal };
}
