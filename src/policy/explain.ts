/**
 * Renders a decision as text a person can act on: what was asked, the answer, which
 * policies decided it (with file line and text), and which failed to evaluate.
 */
import type { CompiledPolicySet } from './compile.ts';
import type { PolicyDecision } from './types.ts';

function quote(set: CompiledPolicySet | undefined, id: string): string {
  const p = set?.policies.get(id);
  if (!p) return `  - ${id}`;
  const text = p.text.length > 400 ? `${p.text.slice(0, 400)}…` : p.text;
  return `  - ${id} (${set!.origin}:${p.line})\n      ${text.replace(/\n/g, '\n      ')}`;
}

/**
 * @param set the active version of the decision's policy set, to quote policy text; if it
 *   is a different version from the one that decided, the explanation says so.
 */
export function explainDecision(d: PolicyDecision, set: CompiledPolicySet | undefined): string {
  const lines: string[] = [];
  lines.push(`${d.allowed ? 'ALLOW' : 'DENY'} — decision ${d.id}${d.cached ? ' (from cache)' : ''}`);
  lines.push(`  ${d.principal} → ${d.action} on ${d.resource}`);
  if (d.policySet !== undefined) lines.push(`  policy set: ${d.policySet}${d.policySetVersion ? ` (version ${d.policySetVersion})` : ''}`);
  const quoted = set !== undefined && set.version === d.policySetVersion ? set : undefined;
  if (set !== undefined && quoted === undefined) lines.push(`  note: the set has changed since (now version ${set.version}); policy text not quoted`);

  switch (d.basis) {
    case 'policy-set-missing':
      lines.push(d.policySet === undefined
        ? '  reason: the route names no policy set, so every request is denied'
        : `  reason: policy set "${d.policySet}" is not loaded, so every request is denied`);
      break;
    case 'no-permit':
      lines.push('  reason: no policy permits this request (default deny)');
      break;
    case 'forbid':
      lines.push('  reason: forbidden by:');
      for (const id of d.reasons) lines.push(quote(quoted, id));
      break;
    case 'forbid-error':
      lines.push('  reason: a forbid policy could not be evaluated, so the request is denied (fail closed):');
      for (const id of d.reasons) lines.push(quote(quoted, id));
      break;
    case 'permit':
      lines.push('  reason: permitted by:');
      for (const id of d.reasons) lines.push(quote(quoted, id));
      break;
  }
  if (d.errors.length > 0) {
    lines.push('  policies that failed to evaluate (skipped):');
    for (const e of d.errors) lines.push(`  - ${e.policyId}: ${e.message}`);
  }
  return lines.join('\n');
}
