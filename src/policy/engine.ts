/**
 * The policy engine: named Cedar policy sets, validate-then-swap reloads, a decision
 * cache keyed on exactly what each set reads, and explainable decisions.
 *
 * Pure: no files, no network. Sets come in as text (see io/policy-files.ts for reading
 * them from a directory); decisions go out as values and through `onDecision`.
 *
 * @example
 *   const engine = new PolicyEngine({ onDecision: (d) => bus.publish('policy.decision', d) });
 *   engine.load('mail', { policies: 'permit(principal in Gatehouse::Role::"mail-user", action in Gatehouse::Action::"read", resource);' });
 *   const d = engine.authorize({ policySet: 'mail', principal: { kind: 'user', id: 'alice', roles: ['mail-user'] },
 *     action: 'GET', resource: { routeId: 'inbox' }, context: {} });
 *   if (!d.allowed) console.log(engine.explain(d));
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import { preparsePolicySet, statefulIsAuthorized } from './cedar.ts';
import type { CedarValueJson } from './cedar.ts';
import { canonicalJson, toCedarRecord, toCedarValue } from './cedar-value.ts';
import { compilePolicySet, type CompiledPolicySet } from './compile.ts';
import { DecisionCache, type DecisionCacheStats, type DecisionOutcome } from './decision-cache.ts';
import { PolicyPartitions } from './partition.ts';
import { CompiledDirectory, TYPE_ACTION, actionAncestors, buildContext, buildEntities, principalUid, resolveAction, resourceUid, uidText } from './entities.ts';
import { explainDecision } from './explain.ts';
import { replayInputFor, type PolicyReplayInput } from './replay-input.ts';
import type { AuthorizationRequest, PolicyDecision, PolicyDirectory, PolicySetSource } from './types.ts';

export interface PolicyEngineOptions {
  /** Most cached decision outcomes; 0 disables the cache. Default 10 000. */
  cacheSize?: number;
  /** Most recent decisions kept for lookup by id (`decision(id)`). Default 1 024. */
  recentDecisions?: number;
  /** Unix milliseconds. Default Date.now. */
  clock?: () => number;
  newDecisionId?: () => string;
  /** Called for every decision (cached or not), e.g. to publish the `policy.decision` event. */
  onDecision?: (decision: PolicyDecision, request: AuthorizationRequest) => void;
  logger?: Logger;
  /**
   * Evaluate only the policies whose scope can match the request's route and action
   * (partition.ts). Same decisions, reasons and errors; much less work for large sets.
   * Default true; false evaluates the whole set every time (kept for differential tests).
   */
  split?: boolean;
  /** Most preparsed subsets kept per set when splitting. Default 256. */
  maxSubsets?: number;
}

interface ActiveSet {
  readonly compiled: CompiledPolicySet;
  /** Cedar id of the whole set (unsplit engines), or the prefix of its subsets. */
  readonly cedarId: string;
  readonly partitions: PolicyPartitions | undefined;
  /** Policy id → position in the file, to report policies in file order. */
  readonly order: ReadonlyMap<string, number>;
  readonly contextFields: readonly string[] | 'all';
  readonly principalFields: readonly string[] | 'all';
}

/** Outcome of `replaceAll`: per set, whether the new text became active. */
export interface ReloadReport {
  loaded: string[];
  unchanged: string[];
  removed: string[];
  /** Sets whose new text was refused; the previous version (if any) keeps serving. */
  failed: Record<string, string[]>;
}

let engineSerial = 0;

/** Frees what Cedar holds for a set version. */
function release(set: ActiveSet): void {
  if (set.partitions) set.partitions.release();
  else preparsePolicySet(set.cedarId, { staticPolicies: {} });
}

export class PolicyEngine {
  readonly #serial = ++engineSerial;
  readonly #sets = new Map<string, ActiveSet>();
  readonly #cache: DecisionCache;
  readonly #recent = new Map<string, PolicyDecision>();
  readonly #recentMax: number;
  readonly #principalGen = new Map<string, number>();
  readonly #clock: () => number;
  readonly #newId: () => string;
  readonly #onDecision: PolicyEngineOptions['onDecision'];
  readonly #logger: Logger | undefined;
  readonly #split: boolean;
  readonly #maxSubsets: number | undefined;
  #dir = new CompiledDirectory({});
  #dirEpoch = 0;

  constructor(options: PolicyEngineOptions = {}) {
    this.#cache = new DecisionCache(options.cacheSize ?? 10_000);
    this.#recentMax = options.recentDecisions ?? 1024;
    this.#clock = options.clock ?? Date.now;
    this.#newId = options.newDecisionId ?? randomUUID;
    this.#onDecision = options.onDecision;
    this.#logger = options.logger;
    this.#split = options.split ?? true;
    this.#maxSubsets = options.maxSubsets;
  }

  /**
   * Validates `source` and, only if it is valid, makes it the active version of `name`.
   * @throws GatehouseError ERR_POLICY_INVALID (data.problems lists each problem); the previous version keeps serving.
   */
  load(name: string, source: PolicySetSource): CompiledPolicySet {
    const result = compilePolicySet(name, source);
    if (!result.ok) {
      throw new GatehouseError('ERR_POLICY_INVALID', { detail: result.problems.join('; '), data: { policySet: name, problems: result.problems } });
    }
    return this.#activate(result.set);
  }

  /** Makes `sources` the complete collection of sets: loads new and changed ones, removes missing ones, keeps the old version of any that fail. */
  replaceAll(sources: Readonly<Record<string, PolicySetSource>>): ReloadReport {
    const report: ReloadReport = { loaded: [], unchanged: [], removed: [], failed: {} };
    for (const [name, source] of Object.entries(sources)) {
      const before = this.#sets.get(name)?.compiled.version;
      try {
        const set = this.load(name, source);
        (set.version === before ? report.unchanged : report.loaded).push(name);
      } catch (err) {
        const problems = err instanceof GatehouseError && Array.isArray(err.data?.problems) ? err.data.problems.map(String) : [String(err)];
        report.failed[name] = problems;
        this.#logger?.error({ policySet: name, problems }, 'policy set refused; previous version keeps serving');
      }
    }
    for (const name of [...this.#sets.keys()]) {
      if (!Object.hasOwn(sources, name)) {
        this.remove(name);
        report.removed.push(name);
      }
    }
    return report;
  }

  /** Removes a set; routes naming it are denied from now on. */
  remove(name: string): void {
    const current = this.#sets.get(name);
    if (!current) return;
    this.#sets.delete(name);
    this.#cache.clear();
    release(current);
  }

  /** Replaces the role hierarchy, route groups and operations; flushes the cache. */
  setDirectory(dir: PolicyDirectory): void {
    this.#dir = new CompiledDirectory(dir);
    this.#dirEpoch++;
    this.#cache.clear();
  }

  /** Forgets cached decisions for one principal (its roles or attributes changed, or it was disabled). */
  invalidatePrincipal(kind: 'user' | 'service', id: string): void {
    const k = `${kind}\0${id}`;
    this.#principalGen.set(k, (this.#principalGen.get(k) ?? 0) + 1);
  }

  /** The active version of a set, if loaded. */
  getSet(name: string): CompiledPolicySet | undefined {
    return this.#sets.get(name)?.compiled;
  }

  setNames(): string[] {
    return [...this.#sets.keys()];
  }

  cacheStats(): DecisionCacheStats {
    return this.#cache.stats();
  }

  /** A recent decision by id (the last `recentDecisions`), for "why was I denied". */
  decision(id: string): PolicyDecision | undefined {
    return this.#recent.get(id);
  }

  /**
   * The inputs of `decision` as the `policy.decision` event records them: the request reduced
   * to the attributes and context fields its set reads (everything when the set is unknown).
   */
  replayInput(decision: PolicyDecision, request: AuthorizationRequest): PolicyReplayInput {
    const set = decision.policySet === undefined ? undefined : this.#sets.get(decision.policySet);
    const refs = set !== undefined && set.compiled.version === decision.policySetVersion ? set.compiled.references : undefined;
    return replayInputFor(request, refs, decision.at, { path: this.#dir.hasOperations(request.resource.routeId) });
  }

  explain(decision: PolicyDecision): string {
    return explainDecision(decision, decision.policySet === undefined ? undefined : this.getSet(decision.policySet));
  }

  /**
   * Decides one request. Synchronous: Cedar runs in-process.
   * @throws GatehouseError ERR_POLICY_UNAVAILABLE when the engine itself fails (never a silent allow).
   */
  authorize(req: AuthorizationRequest): PolicyDecision {
    const nowMs = req.now ?? this.#clock();
    const action = resolveAction(this.#dir, req);
    const principal = principalUid(req);
    const resource = resourceUid(req);
    const set = req.policySet === undefined ? undefined : this.#sets.get(req.policySet);
    const names = { principal: uidText(principal), action: uidText({ type: TYPE_ACTION, id: action }), resource: uidText(resource) };

    if (set === undefined) {
      return this.#finish(req, nowMs, names, undefined, { allowed: false, basis: 'policy-set-missing', reasons: [], errors: [] }, false);
    }
    const context = buildContext(req, req.action, nowMs);
    const key = this.#cache.enabled ? this.#cacheKey(set, req, action, context) : '';
    const hit = this.#cache.enabled ? this.#cache.get(key) : undefined;
    if (hit !== undefined) return this.#finish(req, nowMs, names, set, hit, true);

    const r = req.resource;
    const preparsedPolicySetId = set.partitions === undefined
      ? set.cedarId
      : set.partitions.select(this.#dir, this.#dirEpoch, r.routeId, r.upstream, action, req.action, actionAncestors(action, req.action));
    const answer = statefulIsAuthorized({
      principal,
      action: { type: TYPE_ACTION, id: action },
      resource,
      context,
      entities: buildEntities(this.#dir, req, action),
      preparsedPolicySetId,
    });
    if (answer.type === 'failure') {
      throw new GatehouseError('ERR_POLICY_UNAVAILABLE', { detail: `policy set ${set.compiled.name}: ${answer.errors.map((e) => e.message).join('; ')}` });
    }
    const { decision } = answer.response;
    // Cedar reports policies in no particular order (it differs between a set and its subsets): use file order.
    const byFileOrder = (a: string, b: string) => (set.order.get(a) ?? Infinity) - (set.order.get(b) ?? Infinity);
    const diagnostics = { reason: [...answer.response.diagnostics.reason].sort(byFileOrder), errors: answer.response.diagnostics.errors };
    const errors = diagnostics.errors.map((e) => ({ policyId: e.policyId, message: e.error.message })).sort((a, b) => byFileOrder(a.policyId, b.policyId) || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
    let outcome: DecisionOutcome;
    if (decision === 'allow') {
      const forbidFailed = errors.some((e) => set.compiled.policies.get(e.policyId)?.effect === 'forbid');
      outcome = forbidFailed
        ? { allowed: false, basis: 'forbid-error', reasons: errors.filter((e) => set.compiled.policies.get(e.policyId)?.effect === 'forbid').map((e) => e.policyId), errors }
        : { allowed: true, basis: 'permit', reasons: diagnostics.reason, errors };
    } else {
      outcome = { allowed: false, basis: diagnostics.reason.length > 0 ? 'forbid' : 'no-permit', reasons: diagnostics.reason, errors };
    }
    if (this.#cache.enabled) this.#cache.set(key, outcome);
    return this.#finish(req, nowMs, names, set, outcome, false);
  }

  #activate(compiled: CompiledPolicySet): CompiledPolicySet {
    const current = this.#sets.get(compiled.name);
    if (current?.compiled.version === compiled.version) return current.compiled;
    const cedarId = `gatehouse/${this.#serial}/${compiled.name}/${compiled.version}`;
    const staticPolicies: Record<string, string> = {};
    for (const p of compiled.policies.values()) staticPolicies[p.id] = p.text;
    const answer = preparsePolicySet(cedarId, { staticPolicies });
    if (answer.type === 'failure') {
      const problems = answer.errors.map((e) => e.message);
      throw new GatehouseError('ERR_POLICY_INVALID', { detail: problems.join('; '), data: { policySet: compiled.name, problems } });
    }
    let partitions: PolicyPartitions | undefined;
    if (this.#split) {
      // The whole set was preparsed above only to validate it as Cedar sees it; decisions use subsets.
      preparsePolicySet(cedarId, { staticPolicies: {} });
      partitions = new PolicyPartitions(cedarId, compiled.policies, this.#maxSubsets === undefined ? {} : { maxSubsets: this.#maxSubsets });
    }
    const refs = compiled.references;
    this.#sets.set(compiled.name, {
      compiled,
      cedarId,
      partitions,
      order: new Map([...compiled.policies.keys()].map((id, i) => [id, i])),
      contextFields: refs.context === 'all' ? 'all' : [...refs.context].sort(),
      principalFields: refs.principalAttributes === 'all' ? 'all' : [...refs.principalAttributes].sort(),
    });
    this.#cache.clear();
    // Release the old version's parsed form; nothing can still be evaluating it (authorize is synchronous).
    if (current) release(current);
    this.#logger?.info({ policySet: compiled.name, version: compiled.version, policies: compiled.policies.size, warnings: compiled.warnings }, 'policy set active');
    return compiled;
  }

  /**
   * Everything that can change the outcome, and nothing else: set version, directory epoch,
   * principal (with an invalidation generation), roles, action, route, and only the principal
   * attributes and context fields the set reads.
   */
  #cacheKey(set: ActiveSet, req: AuthorizationRequest, action: string, context: Record<string, CedarValueJson>): string {
    const p = req.principal;
    const attrs = p.attributes ?? {};
    let attrPart: string;
    if (set.principalFields === 'all') attrPart = canonicalJson(toCedarRecord(attrs));
    else attrPart = set.principalFields.map((f) => canonicalJson(Object.hasOwn(attrs, f) ? toCedarValue(attrs[f]) ?? null : null)).join(',');
    let ctxPart: string;
    if (set.contextFields === 'all') ctxPart = canonicalJson(context);
    else ctxPart = set.contextFields.map((f) => canonicalJson(Object.hasOwn(context, f) ? context[f] : undefined)).join(',');
    const roles = p.roles.length > 1 ? [...p.roles].sort() : p.roles;
    const r = req.resource;
    return JSON.stringify([
      set.cedarId, this.#dirEpoch, p.kind, p.id, this.#principalGen.get(`${p.kind}\0${p.id}`) ?? 0, roles,
      req.action, action, r.routeId, r.upstream ?? null, r.path ?? null, r.host ?? null, attrPart, ctxPart,
    ]);
  }

  #finish(
    req: AuthorizationRequest,
    nowMs: number,
    names: { principal: string; action: string; resource: string },
    set: ActiveSet | undefined,
    outcome: DecisionOutcome,
    cached: boolean,
  ): PolicyDecision {
    const decision: PolicyDecision = {
      id: this.#newId(),
      allowed: outcome.allowed,
      basis: outcome.basis,
      policySet: req.policySet,
      policySetVersion: set?.compiled.version,
      reasons: outcome.reasons,
      errors: outcome.errors,
      principal: names.principal,
      action: names.action,
      resource: names.resource,
      cached,
      at: nowMs,
    };
    if (this.#recentMax > 0) {
      if (this.#recent.size >= this.#recentMax) {
        const oldest = this.#recent.keys().next();
        if (!oldest.done) this.#recent.delete(oldest.value);
      }
      this.#recent.set(decision.id, decision);
    }
    if (this.#onDecision) {
      try {
        this.#onDecision(decision, req);
      } catch (err) {
        // A failing listener must not turn into an allow or a crash; it is logged.
        this.#logger?.error({ err, decisionId: decision.id }, 'policy decision listener failed');
      }
    }
    return decision;
  }
}
