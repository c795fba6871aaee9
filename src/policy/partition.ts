/**
 * Splits a policy set so that a decision evaluates only the policies whose scope can match
 * the request's route and action (see scope.ts for why leaving the others out changes no
 * decision, reason or error).
 *
 * Cedar evaluates one preparsed policy set per call, so each distinct subset is preparsed
 * once, on first use, and kept: requests to the same route with the same action share it,
 * and so do different routes and actions that select the same policies (the subset is keyed
 * by its policy ids, not by the request). The number of kept subsets is bounded; the oldest
 * is released when the bound is reached.
 */
import { GatehouseError } from '../core/errors.ts';
import { preparsePolicySet } from './cedar.ts';
import type { CompiledPolicy } from './compile.ts';
import type { CompiledDirectory } from './entities.ts';
import { groupBucket, routeBucket, upstreamBucket } from './scope.ts';

/**
 * Index key for "any resource" and "any action". Buckets always contain ':' so they cannot
 * collide with it; an action literally named "*" would only make its policies apply more
 * widely (evaluated needlessly), never less.
 */
const ANY = '*';

export interface PartitionOptions {
  /** Most preparsed subsets kept per set. Default 256. */
  maxSubsets?: number;
  /** Most request shapes (route, upstream, action, method) remembered. Default 8 192. */
  maxLookups?: number;
}

export class PolicyPartitions {
  readonly #prefix: string;
  readonly #order: ReadonlyMap<string, number>;
  readonly #texts: ReadonlyMap<string, string>;
  /** resource bucket (or ANY) → action id (or ANY) → policy ids. */
  readonly #index = new Map<string, Map<string, string[]>>();
  /** request shape → subset key. Depends on the directory (groups, operations), hence the epoch. */
  readonly #lookup = new Map<string, string>();
  #lookupEpoch = -1;
  /** subset key (its policy ids) → preparsed Cedar id. */
  readonly #subsets = new Map<string, string>();
  readonly #maxSubsets: number;
  readonly #maxLookups: number;
  #serial = 0;

  /**
   * @param prefix unique prefix for the Cedar ids of the subsets (the set's own Cedar id).
   */
  constructor(prefix: string, policies: ReadonlyMap<string, CompiledPolicy>, options: PartitionOptions = {}) {
    this.#prefix = prefix;
    this.#maxSubsets = options.maxSubsets ?? 256;
    this.#maxLookups = options.maxLookups ?? 8192;
    const order = new Map<string, number>();
    const texts = new Map<string, string>();
    for (const p of policies.values()) {
      order.set(p.id, order.size);
      texts.set(p.id, p.text);
      const { resource, action } = p.applicability;
      if (resource === 'never' || action === 'never') continue; // its scope matches no request
      const bucket = resource === 'any' ? ANY : resource.bucket;
      let byAction = this.#index.get(bucket);
      if (byAction === undefined) this.#index.set(bucket, byAction = new Map());
      for (const a of action === 'any' ? [ANY] : action.actions) {
        const list = byAction.get(a);
        if (list === undefined) byAction.set(a, [p.id]);
        else list.push(p.id);
      }
    }
    this.#order = order;
    this.#texts = texts;
  }

  /** Number of preparsed subsets held now. */
  get subsets(): number {
    return this.#subsets.size;
  }

  /**
   * The Cedar id of the preparsed subset holding every policy that can apply to a request.
   *
   * @param action the resolved action (operation name or method); `method` the HTTP method.
   * @throws GatehouseError ERR_POLICY_UNAVAILABLE if Cedar refuses the subset (never an allow).
   */
  select(dir: CompiledDirectory, dirEpoch: number, routeId: string, upstream: string | undefined, action: string, method: string, actionAncestors: readonly string[]): string {
    if (dirEpoch !== this.#lookupEpoch) {
      this.#lookup.clear();
      this.#lookupEpoch = dirEpoch;
    }
    const shape = JSON.stringify([routeId, upstream ?? null, action, method]);
    const known = this.#lookup.get(shape);
    if (known !== undefined) {
      const id = this.#subsets.get(known);
      if (id !== undefined) return id;
    }
    const buckets = [ANY, routeBucket(routeId), ...dir.groupsOf(routeId).map((g) => groupBucket(g.id))];
    if (upstream !== undefined) buckets.push(upstreamBucket(upstream));
    const actions = [ANY, ...actionAncestors];
    const chosen = new Set<string>();
    for (const b of buckets) {
      const byAction = this.#index.get(b);
      if (byAction === undefined) continue;
      for (const a of actions) for (const id of byAction.get(a) ?? []) chosen.add(id);
    }
    const ids = [...chosen].sort((x, y) => this.#order.get(x)! - this.#order.get(y)!);
    const key = ids.join('\n');
    const cedarId = this.#subsets.get(key) ?? this.#prepare(key, ids);
    if (this.#lookup.size >= this.#maxLookups) this.#lookup.clear();
    this.#lookup.set(shape, key);
    return cedarId;
  }

  /** Frees every preparsed subset (the set was replaced or removed). */
  release(): void {
    for (const id of this.#subsets.values()) preparsePolicySet(id, { staticPolicies: {} });
    this.#subsets.clear();
    this.#lookup.clear();
  }

  #prepare(key: string, ids: readonly string[]): string {
    if (this.#subsets.size >= this.#maxSubsets) {
      const oldest = this.#subsets.entries().next();
      if (!oldest.done) {
        this.#subsets.delete(oldest.value[0]);
        preparsePolicySet(oldest.value[1], { staticPolicies: {} });
        // Lookups may point at the released subset; they are rebuilt on demand.
        this.#lookup.clear();
      }
    }
    const cedarId = `${this.#prefix}/part/${++this.#serial}`;
    const staticPolicies: Record<string, string> = {};
    for (const id of ids) staticPolicies[id] = this.#texts.get(id)!;
    const answer = preparsePolicySet(cedarId, { staticPolicies });
    if (answer.type === 'failure') {
      throw new GatehouseError('ERR_POLICY_UNAVAILABLE', { detail: `policy subset ${cedarId}: ${answer.errors.map((e) => e.message).join('; ')}` });
    }
    this.#subsets.set(key, cedarId);
    return cedarId;
  }
}
