/**
 * The detection rules: pure functions of the event stream (no I/O). Each event goes in,
 * zero or more findings come out; the detector turns findings into actions.
 *
 * Inputs (published by the identity provider, the gateway and the CA):
 *   identity.login.failed   { username, subject?, clientAddress, reason }
 *   identity.mfa.failed     { subject, clientAddress, reason }
 *   identity.refresh.reused { clientId, subject?, grantId, clientAddress? }
 *   identity.client.auth_failed { clientAddress?, refusedCredential?, … }
 *   gateway.request         { status, subject?, errorCode?, clientAddress, refusedCredential?, … }
 *   pki.certificate.refused { code, clientAddress?, refusedCredential?, … } (a bootstrap token refused at the CA)
 * Payloads are read defensively: a field of the wrong type makes the rule ignore the event.
 *
 * Subjects are principal ids as authentication made them: a principal of an external issuer
 * that names its own principals is `<issuer>#<sub>` (src/authn/principal.ts), so its requests
 * count, alert and block apart from Gatehouse's principal whose id is that `sub`, and never
 * lock one of Gatehouse's accounts.
 */
import type { DetectConfig } from '../core/config/detect-schema.ts';
import type { EventName } from '../core/events.ts';
import { isIssuerQualified } from '../authn/principal.ts';
import { canonicalIp, clientNetwork, ipv4Number, ipv4Prefix } from '../gateway/http/client-network.ts';
import { ipv6Prefix } from '../ratelimit/ipv6-prefix.ts';
import { DistinctCounter, LruMap, RateBaseline, RecentIds, SlidingCounter } from './counters.ts';
import { subjectKey } from './subject-key.ts';

export type Action = 'alert' | 'block' | 'lock';

export interface Finding {
  rule: string;
  severity: 'low' | 'medium' | 'high';
  keyKind: 'address' | 'subject' | 'account';
  key: string;
  count: number;
  windowStart: number;
  actions: Action[];
  durationMs: number;
  /** What a `block` action blocks. */
  block?: { kind: 'address' | 'subject'; value: string };
  /**
   * What a `lock` action locks: the account of a subject (user id), or the account of a name
   * typed at sign-in. Kept apart so that a subject is never looked up as a user name: a
   * service's client id "mail-api" denied again and again locked the user named "mail-api".
   */
  lockAccount?: { account: string; by: 'subject' | 'username' };
  details: Record<string, unknown>;
}

/** The parts of an envelope the rules read. */
export interface RuleEvent {
  /** The envelope id: an event delivered again under the same id is counted once. */
  id?: string;
  name: string;
  time: number;
  payload: unknown;
}

/** The events the rules read; detection subscribes to these only. */
export const RULE_EVENTS: readonly EventName[] = ['identity.login.failed', 'identity.mfa.failed', 'identity.refresh.reused', 'identity.client.auth_failed', 'pki.certificate.refused', 'gateway.request'];

/** Nearly every event finds nothing: one shared answer instead of an array per event. */
const NONE: readonly Finding[] = Object.freeze([]);

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined);

/** The account of a subject (with its key), when it can have one: another issuer's principal has none here. */
const accountOf = (subject: string, key: string): { lockAccount?: { account: string; by: 'subject' } } => (isIssuerQualified(subject) ? {} : { lockAccount: { account: key, by: 'subject' } });

/** The error of a request refused by a block (block-stage.ts). */
const BLOCKED = 'ERR_SHIELD_BLOCKED';

/** Failed-login reasons that are attempts (not consequences of an earlier block or lock). */
const ATTEMPT_REASONS = new Set(['bad_credentials', 'unknown_user']);

export class Rules {
  #c: DetectConfig;
  readonly #account: SlidingCounter;
  readonly #address: SlidingCounter;
  readonly #stuffing: DistinctCounter;
  /** bruteForceAddress and credentialStuffing per IPv6 prefix (`detect.ipv6Prefix`), at `factor` × their thresholds. */
  readonly #prefixAddress: SlidingCounter;
  readonly #prefixStuffing: DistinctCounter;
  /** The same per IPv4 network (`detect.ipv4Prefix`). */
  readonly #prefixAddress4: SlidingCounter;
  readonly #prefixStuffing4: DistinctCounter;
  readonly #reuse: SlidingCounter;
  /** Distinct never-issued credentials per client network (credentialGuessing). */
  readonly #guesses: DistinctCounter;
  /** The same per IPv6 prefix and per IPv4 network, at the levels' `factor` × its threshold. */
  readonly #prefixGuesses: DistinctCounter;
  readonly #prefixGuesses4: DistinctCounter;
  readonly #mfa: SlidingCounter;
  readonly #denials: SlidingCounter;
  readonly #rate: RateBaseline;
  /** `<rule> <key>` → time of its last finding. */
  readonly #lastFired: LruMap<number>;
  /**
   * Ids of the events counted, identity ones (and the CA's refusals) apart from denied requests: a flood of denials
   * must not push out the ids of the few sign-in events whose repeats would lock an account.
   */
  readonly #identityIds: RecentIds;
  readonly #requestIds: RecentIds;
  #suppressed = 0;

  constructor(config: DetectConfig) {
    this.#c = config;
    const m = config.maxKeys;
    this.#account = new SlidingCounter(config.bruteForceAccount.threshold, config.bruteForceAccount.windowMs, m);
    this.#address = new SlidingCounter(config.bruteForceAddress.threshold, config.bruteForceAddress.windowMs, m);
    this.#stuffing = new DistinctCounter(config.credentialStuffing.threshold, config.credentialStuffing.windowMs, m);
    const f = config.ipv6Prefix.factor;
    this.#prefixAddress = new SlidingCounter(config.bruteForceAddress.threshold * f, config.bruteForceAddress.windowMs, m);
    this.#prefixStuffing = new DistinctCounter(config.credentialStuffing.threshold * f, config.credentialStuffing.windowMs, m);
    const f4 = config.ipv4Prefix.factor;
    this.#prefixAddress4 = new SlidingCounter(config.bruteForceAddress.threshold * f4, config.bruteForceAddress.windowMs, m);
    this.#prefixStuffing4 = new DistinctCounter(config.credentialStuffing.threshold * f4, config.credentialStuffing.windowMs, m);
    this.#reuse = new SlidingCounter(config.refreshReuse.threshold, config.refreshReuse.windowMs, m);
    this.#guesses = new DistinctCounter(config.credentialGuessing.threshold, config.credentialGuessing.windowMs, m);
    this.#prefixGuesses = new DistinctCounter(config.credentialGuessing.threshold * f, config.credentialGuessing.windowMs, m);
    this.#prefixGuesses4 = new DistinctCounter(config.credentialGuessing.threshold * f4, config.credentialGuessing.windowMs, m);
    this.#mfa = new SlidingCounter(config.mfaFailures.threshold, config.mfaFailures.windowMs, m);
    this.#denials = new SlidingCounter(config.denialBurst.threshold, config.denialBurst.windowMs, m);
    this.#rate = new RateBaseline({ ...config.rateAnomaly, maxKeys: m });
    this.#lastFired = new LruMap(m);
    this.#identityIds = new RecentIds(m);
    this.#requestIds = new RecentIds(m);
  }

  /**
   * Applies a reloaded configuration to the events that follow. What was counted so far is
   * kept for every rule that stays enabled, and measured against the new threshold and
   * window at its key's next event: tightening a threshold during an attack fires at the
   * attacker's next attempt, not after a fresh `threshold` of them. A rule switched off
   * forgets its counts (switching it on again starts from zero); the one-alert-per-window
   * memory is kept for all, so a reload does not repeat an alert already raised. Changing
   * `rateAnomaly.bucketMs` starts the rate baselines over (see {@link RateBaseline.configure}).
   */
  configure(config: DetectConfig): void {
    const m = config.maxKeys;
    const sliding: [SlidingCounter, DetectConfig['bruteForceAccount']][] = [
      [this.#account, config.bruteForceAccount], [this.#address, config.bruteForceAddress], [this.#reuse, config.refreshReuse],
      [this.#mfa, config.mfaFailures], [this.#denials, config.denialBurst],
    ];
    for (const [counter, rule] of sliding) {
      counter.configure(rule.threshold, rule.windowMs, m);
      if (!rule.enabled) counter.clear();
    }
    this.#stuffing.configure(config.credentialStuffing.threshold, config.credentialStuffing.windowMs, m);
    if (!config.credentialStuffing.enabled) this.#stuffing.clear();
    this.#guesses.configure(config.credentialGuessing.threshold, config.credentialGuessing.windowMs, m);
    if (!config.credentialGuessing.enabled) this.#guesses.clear();
    const p = config.ipv6Prefix;
    this.#prefixAddress.configure(config.bruteForceAddress.threshold * p.factor, config.bruteForceAddress.windowMs, m);
    this.#prefixStuffing.configure(config.credentialStuffing.threshold * p.factor, config.credentialStuffing.windowMs, m);
    // Counts of another prefix length are of other keys: started over, as a switched-off level is.
    if (!p.enabled || !config.bruteForceAddress.enabled || p.length !== this.#c.ipv6Prefix.length) this.#prefixAddress.clear();
    if (!p.enabled || !config.credentialStuffing.enabled || p.length !== this.#c.ipv6Prefix.length) this.#prefixStuffing.clear();
    this.#prefixGuesses.configure(config.credentialGuessing.threshold * p.factor, config.credentialGuessing.windowMs, m);
    if (!p.enabled || !config.credentialGuessing.enabled || p.length !== this.#c.ipv6Prefix.length) this.#prefixGuesses.clear();
    const p4 = config.ipv4Prefix;
    this.#prefixAddress4.configure(config.bruteForceAddress.threshold * p4.factor, config.bruteForceAddress.windowMs, m);
    this.#prefixStuffing4.configure(config.credentialStuffing.threshold * p4.factor, config.credentialStuffing.windowMs, m);
    if (!p4.enabled || !config.bruteForceAddress.enabled || p4.length !== this.#c.ipv4Prefix.length) this.#prefixAddress4.clear();
    if (!p4.enabled || !config.credentialStuffing.enabled || p4.length !== this.#c.ipv4Prefix.length) this.#prefixStuffing4.clear();
    this.#prefixGuesses4.configure(config.credentialGuessing.threshold * p4.factor, config.credentialGuessing.windowMs, m);
    if (!p4.enabled || !config.credentialGuessing.enabled || p4.length !== this.#c.ipv4Prefix.length) this.#prefixGuesses4.clear();
    this.#rate.configure({ ...config.rateAnomaly, maxKeys: m });
    if (!config.rateAnomaly.enabled) this.#rate.clear();
    this.#lastFired.resize(m);
    this.#identityIds.resize(m);
    this.#requestIds.resize(m);
    this.#c = config;
  }

  evaluate(e: RuleEvent): readonly Finding[] {
    if (!this.#c.enabled || typeof e.payload !== 'object' || e.payload === null) return NONE;
    const p = e.payload as Record<string, unknown>;
    let found: readonly Finding[];
    switch (e.name) {
      case 'identity.login.failed': found = this.#loginFailed(e, p); break;
      case 'identity.mfa.failed': found = this.#mfaFailed(e, p); break;
      case 'identity.refresh.reused': found = this.#refreshReused(e, p); break;
      case 'identity.client.auth_failed':
      case 'pki.certificate.refused': found = this.#credentialRefused(e, p, this.#identityIds); break;
      case 'gateway.request': found = this.#request(e, p); break;
      default: return NONE;
    }
    return found.length === 0 ? found : this.#onePerWindow(found, e.time);
  }

  /** Findings left out by {@link #onePerWindow} since start. */
  get suppressed(): number {
    return this.#suppressed;
  }

  /**
   * At most one finding per rule and key per window of that rule: an attack that goes on
   * (an identity whose requests keep being denied by policy, a client that keeps guessing)
   * is one alert, not one per `threshold` events — 6,000 denials in a minute made 200
   * alerts, each a stored row, a log warning, a bus event and an audit record. A block that
   * expires while the attack goes on is renewed by the first finding of the next window.
   */
  #onePerWindow(found: readonly Finding[], time: number): readonly Finding[] {
    const kept = found.filter((f) => {
      const key = `${f.rule} ${f.key}`;
      const last = this.#lastFired.get(key);
      if (last !== undefined && time - last < this.#cooldownMs(f)) {
        this.#suppressed += 1;
        return false;
      }
      this.#lastFired.set(key, time);
      return true;
    });
    return kept.length === 0 ? NONE : kept;
  }

  /**
   * The rule's window, but no longer than the block or lock the finding brings: one shorter
   * than the window ended while later findings were still held back, so a client that went on
   * after its block or lock expired was left alone for the rest of the window, however much
   * it guessed (requests refused by the block count for nothing, so a block cannot renew itself).
   */
  #cooldownMs(f: Finding): number {
    const window = this.#windowMs(f.rule);
    const enforces = (f.block !== undefined && f.actions.includes('block')) || (f.lockAccount !== undefined && f.actions.includes('lock'));
    return enforces ? Math.min(window, f.durationMs) : window;
  }

  /** Whether `rule` reported `key` within the cooldown of its finding (see {@link #cooldownMs}; address findings carry a block). */
  #reported(rule: string, key: string, r: { windowMs: number; blockMs: number; actions: readonly Action[] }, time: number): boolean {
    const last = this.#lastFired.peek(`${rule} ${key}`);
    return last !== undefined && time - last < (r.actions.includes('block') ? Math.min(r.windowMs, r.blockMs) : r.windowMs);
  }

  #windowMs(rule: string): number {
    const c = this.#c;
    switch (rule) {
      case 'brute_force_account': return c.bruteForceAccount.windowMs;
      case 'brute_force_address': return c.bruteForceAddress.windowMs;
      case 'credential_stuffing': return c.credentialStuffing.windowMs;
      case 'credential_guessing': return c.credentialGuessing.windowMs;
      case 'refresh_token_reuse': return c.refreshReuse.windowMs;
      case 'mfa_failures': return c.mfaFailures.windowMs;
      case 'denial_burst': return c.denialBurst.windowMs;
      default: return c.rateAnomaly.bucketMs;
    }
  }

  /** Whether the event was counted already (delivered again by the bus). */
  #repeat(ids: RecentIds, e: RuleEvent): boolean {
    return e.id !== undefined && ids.repeat(e.id);
  }

  #loginFailed(e: RuleEvent, p: Record<string, unknown>): readonly Finding[] {
    const username = text(p.username)?.toLowerCase();
    const subject = text(p.subject);
    const address = text(p.clientAddress);
    if (!ATTEMPT_REASONS.has(String(p.reason)) || this.#repeat(this.#identityIds, e)) return NONE;
    const time = e.time;
    // Address rules count (and block) the client's network: one IPv6 client owns a whole /64.
    // Spelled as accept spells it first: the identity provider embedded without the gateway
    // reports a dual-stack socket's ::ffff:a.b.c.d, which counted apart from a.b.c.d and, as
    // an IPv6 address, fell into the one /64 (::/64) of every IPv4 client.
    const network = address === undefined ? undefined : clientNetwork(canonicalIp(address) ?? address);
    // The account tried: its subject when the login service found one, since one account
    // answers to its user name and to its e-mail address (counting names let an attacker
    // alternate them for twice the attempts); else the name typed.
    const account = subject !== undefined ? `sub:${subject}` : username !== undefined ? `name:${username}` : undefined;
    const out: Finding[] = [];
    const c = this.#c;
    if (account && c.bruteForceAccount.enabled) {
      const start = this.#account.hit(account, time);
      if (start !== undefined) {
        const key = subject ?? username!;
        out.push({
          rule: 'brute_force_account', severity: 'high', keyKind: 'account', key, count: c.bruteForceAccount.threshold, windowStart: start,
          // No `block`: it would be the victim's subject (the schema refuses `block` for this rule).
          actions: c.bruteForceAccount.actions, durationMs: c.bruteForceAccount.blockMs, lockAccount: { account: key, by: subject !== undefined ? 'subject' : 'username' },
          details: { lastUsername: username, lastClientAddress: address, windowMs: c.bruteForceAccount.windowMs },
        });
      }
    }
    if (network && c.bruteForceAddress.enabled) {
      const start = this.#address.hit(network, time);
      if (start !== undefined) {
        out.push({
          rule: 'brute_force_address', severity: 'high', keyKind: 'address', key: network, count: c.bruteForceAddress.threshold, windowStart: start,
          actions: c.bruteForceAddress.actions, durationMs: c.bruteForceAddress.blockMs, block: { kind: 'address', value: network },
          details: { lastClientAddress: address, windowMs: c.bruteForceAddress.windowMs },
        });
      }
    }
    if (network && account && c.credentialStuffing.enabled) {
      const hit = this.#stuffing.hit(network, account, time);
      if (hit) {
        out.push({
          rule: 'credential_stuffing', severity: 'high', keyKind: 'address', key: network, count: hit.distinct, windowStart: hit.windowStart,
          actions: c.credentialStuffing.actions, durationMs: c.credentialStuffing.blockMs, block: { kind: 'address', value: network },
          details: { lastClientAddress: address, distinctAccounts: hit.distinct, windowMs: c.credentialStuffing.windowMs },
        });
      }
    }
    // The same two rules over the client's IPv6 prefix: one customer holds a /48 of 65 536 /64s
    // and, counted per /64 only, stayed below both thresholds by moving to a fresh /64 in time.
    // NAT64 and zoned addresses have no prefix (one `endsWith` each). An IPv4 client is counted
    // by its network (a /24 of a hoster's, through whose addresses an attacker moves the same way).
    const held = network === undefined ? undefined : this.#prefixOf(network);
    if (held === undefined) return out;
    if (held.v4) this.#prefixFindings(out, held.prefix, network!, address, account, time, held.level, this.#prefixAddress4, this.#prefixStuffing4);
    else this.#prefixFindings(out, held.prefix, network!, address, account, time, held.level, this.#prefixAddress, this.#prefixStuffing);
    return out;
  }

  /**
   * The prefix level that holds a client network (an address, an IPv6 client's /64) and its
   * prefix there: the IPv4 network (`detect.ipv4Prefix`) or the IPv6 prefix (`detect.ipv6Prefix`).
   * Undefined when the level is off, and for NAT64 and zoned addresses, which have no prefix.
   */
  #prefixOf(network: string): { prefix: string; level: DetectConfig['ipv6Prefix']; v4: boolean } | undefined {
    if (!network.includes(':')) {
      const level = this.#c.ipv4Prefix;
      return level.enabled ? { prefix: ipv4Prefix(ipv4Number(network), level.length), level, v4: true } : undefined;
    }
    const level = this.#c.ipv6Prefix;
    const prefix = level.enabled ? ipv6Prefix(network, level.length) : undefined;
    return prefix === undefined ? undefined : { prefix, level, v4: false };
  }

  /**
   * Findings of a prefix level (`detect.ipv6Prefix`, `detect.ipv4Prefix`: `level`, with its own
   * counters): the address rules' names, keyed by the prefix, at `factor` × their thresholds,
   * with the level's `actions` (alert only unless `block` is opted into, since a prefix block
   * refuses every client of it) and the rule's `blockMs`.
   *
   * A /64 already reported by a rule (within that finding's cooldown) does not count for the
   * rule's prefix: it is dealt with under its own key, and one host going on from its /64 (its
   * own rule alerting only) would otherwise set off its whole prefix — blocking it, where `block`
   * is opted into. As the rate limiter's per-/64 bucket decides before the prefix's, so that one
   * host cannot lock its neighbours out, the prefix fires on attempts spread over /64s.
   */
  #prefixFindings(
    out: Finding[], prefix: string, network: string, address: string | undefined, account: string | undefined, time: number,
    level: DetectConfig['ipv6Prefix'], failures: SlidingCounter, accounts: DistinctCounter,
  ): void {
    const c = this.#c;
    const { length, factor, actions } = level;
    const r = c.bruteForceAddress;
    if (r.enabled && !this.#reported('brute_force_address', network, r, time)) {
      const start = failures.hit(prefix, time);
      if (start !== undefined) {
        out.push({
          rule: 'brute_force_address', severity: 'high', keyKind: 'address', key: prefix, count: r.threshold * factor, windowStart: start,
          actions, durationMs: r.blockMs, block: { kind: 'address', value: prefix },
          details: { lastClientAddress: address, lastNetwork: network, prefixLength: length, factor, windowMs: r.windowMs },
        });
      }
    }
    const s = c.credentialStuffing;
    if (account && s.enabled && !this.#reported('credential_stuffing', network, s, time)) {
      const hit = accounts.hit(prefix, account, time);
      if (hit) {
        out.push({
          rule: 'credential_stuffing', severity: 'high', keyKind: 'address', key: prefix, count: hit.distinct, windowStart: hit.windowStart,
          actions, durationMs: s.blockMs, block: { kind: 'address', value: prefix },
          details: { lastClientAddress: address, lastNetwork: network, distinctAccounts: hit.distinct, prefixLength: length, factor, windowMs: s.windowMs },
        });
      }
    }
  }

  /**
   * A credential Gatehouse never issued, refused (its digest in `refusedCredential`): counted as
   * one value per client network, so a client retrying one dead token is one credential, and
   * one trying unknown API tokens, forged JWTs or client secrets is many. Before, these refusals
   * counted for no rule (a 401 without a subject is no identity's denial): a guesser was held
   * back by the edge rate limit only.
   */
  #credentialRefused(e: RuleEvent, p: Record<string, unknown>, ids: RecentIds): readonly Finding[] {
    const r = this.#c.credentialGuessing;
    const digest = text(p.refusedCredential);
    const address = text(p.clientAddress);
    if (!r.enabled || digest === undefined || address === undefined || this.#repeat(ids, e)) return NONE;
    const network = clientNetwork(canonicalIp(address) ?? address);
    const time = e.time;
    const hit = this.#guesses.hit(network, digest, time);
    const out: Finding[] = [];
    if (hit) {
      out.push({
        rule: 'credential_guessing', severity: 'high', keyKind: 'address', key: network, count: hit.distinct, windowStart: hit.windowStart,
        actions: r.actions, durationMs: r.blockMs, block: { kind: 'address', value: network },
        details: { lastClientAddress: address, distinctCredentials: hit.distinct, lastEvent: e.name, windowMs: r.windowMs },
      });
    }
    // The network's prefix too, as for the address rules: an attacker moving to the next address
    // of its /24 (or /64 of its /48) before each reached the threshold guessed unseen for as long
    // as the addresses lasted. A network its own finding deals with (this one, or one within its
    // cooldown) adds nothing, so one guessing host does not set off its neighbours' prefix.
    const held = hit || this.#reported('credential_guessing', network, r, time) ? undefined : this.#prefixOf(network);
    if (held !== undefined) {
      const { prefix, level } = held;
      const wide = (held.v4 ? this.#prefixGuesses4 : this.#prefixGuesses).hit(prefix, digest, time);
      if (wide) {
        out.push({
          rule: 'credential_guessing', severity: 'high', keyKind: 'address', key: prefix, count: wide.distinct, windowStart: wide.windowStart,
          actions: level.actions, durationMs: r.blockMs, block: { kind: 'address', value: prefix },
          details: { lastClientAddress: address, lastNetwork: network, distinctCredentials: wide.distinct, prefixLength: level.length, factor: level.factor, lastEvent: e.name, windowMs: r.windowMs },
        });
      }
    }
    return out.length === 0 ? NONE : out;
  }

  #mfaFailed(e: RuleEvent, p: Record<string, unknown>): readonly Finding[] {
    const subject = text(p.subject);
    const r = this.#c.mfaFailures;
    // A code refused unchecked because the account is already locked is not another failure.
    if (!subject || !r.enabled || p.reason === 'locked' || this.#repeat(this.#identityIds, e)) return NONE;
    const start = this.#mfa.hit(subject, e.time);
    if (start === undefined) return NONE;
    return [{
      rule: 'mfa_failures', severity: 'high', keyKind: 'subject', key: subject, count: r.threshold, windowStart: start,
      actions: r.actions, durationMs: r.blockMs, lockAccount: { account: subject, by: 'subject' }, block: { kind: 'subject', value: subject },
      details: { lastClientAddress: text(p.clientAddress), windowMs: r.windowMs },
    }];
  }

  #refreshReused(e: RuleEvent, p: Record<string, unknown>): readonly Finding[] {
    const subject = text(p.subject);
    const grant = text(p.grantId);
    const r = this.#c.refreshReuse;
    const key = subject ?? (grant ? `grant:${grant}` : undefined);
    if (!key || !r.enabled || this.#repeat(this.#identityIds, e)) return NONE;
    const start = this.#reuse.hit(key, e.time);
    if (start === undefined) return NONE;
    return [{
      rule: 'refresh_token_reuse', severity: 'high', keyKind: 'subject', key, count: r.threshold, windowStart: start,
      actions: r.actions, durationMs: r.blockMs, ...(subject ? { block: { kind: 'subject' as const, value: subject }, lockAccount: { account: subject, by: 'subject' as const } } : {}),
      details: { clientId: text(p.clientId), grantId: grant, ...(text(p.clientAddress) ? { clientAddress: text(p.clientAddress) } : {}) },
    }];
  }

  /** On every request: anonymous ones cost a property read, allowed ones one rate-counter update. */
  #request(e: RuleEvent, p: Record<string, unknown>): readonly Finding[] {
    const principal = p.subject;
    if (p.refusedCredential !== undefined && principal === undefined) return this.#credentialRefused(e, p, this.#requestIds);
    // A request refused by a block is that block's consequence, not a denial or a request of
    // its own: counted, a client retrying through its block renewed it (denialBurst, rateAnomaly
    // with `block`) before it expired, so it never ended, and raised an alert every window.
    if (typeof principal !== 'string' || principal.length === 0 || p.errorCode === BLOCKED) return NONE;
    // Any length: a long id (another issuer's `sub`) is counted and blocked under its digest.
    const subject = subjectKey(principal);
    const long = subject === principal ? undefined : principal.slice(0, 200);
    const status = typeof p.status === 'number' ? p.status : 0;
    const denied = status === 401 || status === 403;
    // Only denials are checked for a repeat: remembering the id of every request cost ~1.5 µs
    // a request (mostly keeping 100,000 strings alive for the garbage collector), so a retried
    // allowed request may count twice towards rateAnomaly (docs/detection.md).
    if (denied && this.#repeat(this.#requestIds, e)) return NONE;
    const time = e.time;
    let out: Finding[] | undefined;
    const d = this.#c.denialBurst;
    if (d.enabled && denied) {
      const start = this.#denials.hit(subject, time);
      if (start !== undefined) {
        (out ??= []).push({
          rule: 'denial_burst', severity: 'medium', keyKind: 'subject', key: subject, count: d.threshold, windowStart: start,
          actions: d.actions, durationMs: d.blockMs, block: { kind: 'subject', value: subject }, ...accountOf(principal, subject),
          details: { lastStatus: status, lastRoute: text(p.routeId), windowMs: d.windowMs, ...(long === undefined ? {} : { subjectStart: long }) },
        });
      }
    }
    const r = this.#c.rateAnomaly;
    if (r.enabled) {
      const hit = this.#rate.hit(subject, time);
      if (hit) {
        (out ??= []).push({
          rule: 'rate_anomaly', severity: 'medium', keyKind: 'subject', key: subject, count: hit.count, windowStart: hit.bucketStart,
          actions: r.actions, durationMs: r.blockMs, block: { kind: 'subject', value: subject }, ...accountOf(principal, subject),
          details: { requestsInBucket: hit.count, usualPerBucket: Math.round(hit.baseline * 100) / 100, bucketMs: r.bucketMs, factor: r.factor, ...(long === undefined ? {} : { subjectStart: long }) },
        });
      }
    }
    return out ?? NONE;
  }
}
