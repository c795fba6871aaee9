/**
 * Parses and validates the text of one policy set. This is the "validate" half of
 * validate-then-swap: it has no side effect on the engine, so a set that fails here
 * never becomes active.
 *
 * Each policy gets a stable id: its `@id("…")` annotation, or `<set>:<line>` (the line
 * it starts on), so that explanations and audit records point at something a person
 * can find in the file.
 */
import { createHash } from 'node:crypto';
import { checkParseSchema, policySetTextToParts, policyToJson, validate } from './cedar.ts';
import type { DetailedError, PolicyJson } from './cedar.ts';
import { findReferences, type References } from './references.ts';
import { policyApplicability, type PolicyApplicability } from './scope.ts';
import type { PolicySetSource } from './types.ts';

export interface CompiledPolicy {
  readonly id: string;
  readonly effect: 'permit' | 'forbid';
  readonly text: string;
  /** 1-based line in the source where the policy starts. */
  readonly line: number;
  /** Which routes and actions the policy's scope can match (decisions evaluate only those that can). */
  readonly applicability: PolicyApplicability;
}

export interface CompiledPolicySet {
  readonly name: string;
  /** First 16 hex digits of SHA-256 over the policies and schema: names this version in decisions. */
  readonly version: string;
  readonly origin: string;
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
  readonly references: References;
  /** Validator warnings (e.g. a policy that can never apply); the set is still usable. */
  readonly warnings: readonly string[];
}

export type CompileResult =
  | { ok: true; set: CompiledPolicySet }
  | { ok: false; problems: string[] };

const SET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function describe(origin: string, text: string, e: DetailedError): string {
  const loc = e.sourceLocations?.[0];
  const where = loc ? `${origin}:${lineOf(text, loc.start)}` : origin;
  const label = loc?.label ? ` (${loc.label})` : '';
  const help = e.help ? `; ${e.help}` : '';
  return `${where}: ${e.message}${label}${help}`;
}

/** Parses, names and (when a schema is given) validates a policy set. Never throws. */
export function compilePolicySet(name: string, source: PolicySetSource): CompileResult {
  const origin = source.origin ?? `${name}.cedar`;
  if (!SET_NAME.test(name)) return { ok: false, problems: [`${origin}: policy set name "${name}" is not allowed (letters, digits, . _ -)`] };

  const parts = policySetTextToParts(source.policies);
  if (parts.type === 'failure') return { ok: false, problems: parts.errors.map((e) => describe(origin, source.policies, e)) };
  if (parts.policy_templates.length > 0) {
    return { ok: false, problems: [`${origin}: policy templates (?principal / ?resource slots) are not supported; write static policies`] };
  }

  // Parts come back sorted by Cedar's generated id, not in file order: find each in the text.
  const located = parts.policies.map((text, i) => {
    const at = source.policies.indexOf(text);
    return { text, at: at < 0 ? Number.MAX_SAFE_INTEGER - parts.policies.length + i : at };
  }).sort((a, b) => a.at - b.at);

  const problems: string[] = [];
  const policies = new Map<string, CompiledPolicy>();
  const jsons: PolicyJson[] = [];
  for (const { text, at } of located) {
    const json = policyToJson(text);
    if (json.type === 'failure') {
      problems.push(...json.errors.map((e) => describe(origin, text, e)));
      continue;
    }
    const line = at < source.policies.length ? lineOf(source.policies, at) : 0;
    const annotated = json.json.annotations?.id;
    const id = annotated ?? `${name}:${line || policies.size + 1}`;
    if (!POLICY_ID.test(id)) problems.push(`${origin}:${line}: @id("${id}") is not allowed (letters, digits, . _ : / -)`);
    else if (policies.has(id)) problems.push(`${origin}:${line}: duplicate policy id "${id}"`);
    else {
      policies.set(id, { id, effect: json.json.effect, text, line, applicability: policyApplicability(json.json) });
      jsons.push(json.json);
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  const warnings: string[] = [];
  if (source.schema !== undefined) {
    const schema = source.schema as Parameters<typeof checkParseSchema>[0];
    const parsed = checkParseSchema(schema);
    if (parsed.type === 'failure') return { ok: false, problems: parsed.errors.map((e) => `${origin} schema: ${e.message}`) };
    const staticPolicies: Record<string, string> = {};
    for (const p of policies.values()) staticPolicies[p.id] = p.text;
    const answer = validate({ schema, policies: { staticPolicies }, validationSettings: { mode: 'strict' } });
    if (answer.type === 'failure') return { ok: false, problems: answer.errors.map((e) => `${origin}: ${e.message}`) };
    for (const v of answer.validationErrors) {
      const p = policies.get(v.policyId);
      problems.push(`${origin}:${p?.line ?? '?'}: policy "${v.policyId}": ${v.error.message}`);
    }
    if (problems.length > 0) return { ok: false, problems };
    for (const w of answer.validationWarnings) warnings.push(`policy "${w.policyId}": ${w.error.message}`);
  }

  const hash = createHash('sha256').update(source.policies).update('\0');
  if (source.schema !== undefined) hash.update(typeof source.schema === 'string' ? source.schema : JSON.stringify(source.schema));
  return {
    ok: true,
    set: {
      name,
      version: hash.digest('hex').slice(0, 16),
      origin,
      policies,
      references: findReferences(jsons),
      warnings,
    },
  };
}
