/**
 * Schema of anomaly detection (`detect` key): one entry per rule with its threshold,
 * window and actions (docs/detection.md).
 */
import { z } from 'zod';

const action = z.enum(['alert', 'block', 'lock']);
type Action = z.infer<typeof action>;

const actionsDoc = '`alert` (event + stored alert), `block` (temporary block of the address or identity), `lock` (account lock through the identity provider).';

/**
 * `bruteForceAccount` counts failures per account from any address, so its `block` would block
 * the account's subject — the victim's sessions and API tokens at the gateway — for anyone who
 * types the victim's name a few times. Refused rather than redirected to the attacking address:
 * blocking addresses is what bruteForceAddress and credentialStuffing are for.
 */
const accountActions = z.array(action).min(1)
  .refine((a) => !a.includes('block'), 'must not include `block`: it would block the attacked account (its subject, every session and API token of the victim), which anyone who knows the name could set off; block attacking addresses with bruteForceAddress / credentialStuffing')
  .default(['alert', 'lock'])
  .describe('`alert` (event + stored alert) or `lock` (account lock through the identity provider); `block` is refused (it would block the victim, not the attacker).');


/** A rule's `actions`: any of the three, by default `defaults`. */
const actionsOf = (defaults: Action[]) => z.array(action).min(1).default(defaults).describe(actionsDoc);

function rule<A extends z.ZodType<Action[], Action[] | undefined>>(defaults: { threshold: number; windowMs: number; actions: Action[]; blockMs: number }, actions: A) {
  return z.object({
    enabled: z.boolean().default(true),
    threshold: z.number().int().min(1).max(1_000_000).default(defaults.threshold).describe('Events in the window that fire the rule.'),
    windowMs: z.number().int().min(1000).max(7 * 24 * 3600 * 1000).default(defaults.windowMs).describe('Length of the counting window.'),
    actions,
    blockMs: z.number().int().min(1000).max(30 * 24 * 3600 * 1000).default(defaults.blockMs).describe('Duration of a block or lock.'),
  }).strict().default({ enabled: true, ...defaults });
}

/**
 * A prefix level of the address rules: bruteForceAddress, credentialStuffing and credentialGuessing
 * also count the network that holds each client, at `factor` × their threshold, so that a client moving
 * through the addresses of its network before each threshold is still seen. A network is many
 * users' (a hoster's customers, a campus, carrier-grade NAT), so a level alerts by default and
 * blocks only when `block` is listed (docs/detection.md, "IPv6 prefixes", "IPv4 networks").
 */
function prefixLevel(o: { length: number; min: number; max: number; unit: string; lengthText: string; describe: string }) {
  const defaults: { enabled: boolean; length: number; factor: number; actions: ('alert' | 'block')[] } = { enabled: true, length: o.length, factor: 10, actions: ['alert'] };
  return z.object({
    enabled: z.boolean().default(defaults.enabled),
    length: z.number().int().min(o.min).max(o.max).default(defaults.length).describe(o.lengthText),
    factor: z.number().int().min(1).max(1000).default(defaults.factor).describe(`The ${o.unit} fires at \`factor\` × the rule's \`threshold\` (failures for bruteForceAddress, distinct accounts for credentialStuffing, distinct credentials for credentialGuessing), within the rule's \`windowMs\`.`),
    actions: z.array(z.enum(['alert', 'block'])).min(1).default(defaults.actions).describe(`\`alert\`; add \`block\` to block the whole ${o.unit} for the rule's \`blockMs\` (every client in it, not only the attacker).`),
  }).strict().default(defaults).describe(o.describe);
}

/** One IPv6 customer commonly holds a /48 (65 536 /64s, each counted as one client). */
const ipv6PrefixSchema = prefixLevel({
  length: 48, min: 32, max: 63, unit: 'prefix', lengthText: 'Prefix counted as one customer (/48 is common, /56 for many residential lines).',
  describe: 'bruteForceAddress, credentialStuffing and credentialGuessing also count per IPv6 prefix (on top of the per-/64 count), so a client rotating through the /64s of its prefix is still seen.',
});

/** An attacker renting from a hoster or cloud commonly has many addresses of one /24. */
const ipv4PrefixSchema = prefixLevel({
  length: 24, min: 8, max: 31, unit: 'network', lengthText: 'Network counted as one (/24 is a hoster\'s or cloud\'s usual unit).',
  describe: 'bruteForceAddress, credentialStuffing and credentialGuessing also count per IPv4 network (on top of the per-address count), so a client rotating through the addresses of its network is still seen.',
});

export const detectSchema = z.object({
  enabled: z.boolean().default(true).describe('Run the detection rules over the event stream.'),
  bruteForceAccount: rule({ threshold: 10, windowMs: 600_000, actions: ['alert', 'lock'], blockMs: 900_000 }, accountActions).describe('Failed logins for one account name.'),
  bruteForceAddress: rule({ threshold: 20, windowMs: 600_000, actions: ['alert', 'block'], blockMs: 900_000 }, actionsOf(['alert', 'block'])).describe('Failed logins from one client address.'),
  credentialStuffing: rule({ threshold: 10, windowMs: 600_000, actions: ['alert', 'block'], blockMs: 3_600_000 }, actionsOf(['alert', 'block'])).describe('Distinct account names failing from one client address.'),
  credentialGuessing: rule({ threshold: 20, windowMs: 600_000, actions: ['alert', 'block'], blockMs: 900_000 }, actionsOf(['alert', 'block'])).describe('Distinct credentials that Gatehouse never issued presented from one client address (and, at `factor` × `threshold`, from its network: `ipv4Prefix`, `ipv6Prefix`): unknown, expired or revoked API tokens and JWTs with a forged signature at the gateway, wrong client secrets and assertions at the token, introspection and revocation endpoints. One credential retried counts once.'),
  ipv6Prefix: ipv6PrefixSchema,
  ipv4Prefix: ipv4PrefixSchema,
  refreshReuse: rule({ threshold: 1, windowMs: 60_000, actions: ['alert', 'block'], blockMs: 900_000 }, actionsOf(['alert', 'block'])).describe('A rotated refresh token presented again (the grant is revoked by the identity provider; the subject is blocked here).'),
  mfaFailures: rule({ threshold: 5, windowMs: 600_000, actions: ['alert', 'lock'], blockMs: 900_000 }, actionsOf(['alert', 'lock'])).describe('Failed MFA verifications for one subject.'),
  denialBurst: rule({ threshold: 30, windowMs: 60_000, actions: ['alert'], blockMs: 300_000 }, actionsOf(['alert'])).describe('Requests denied (401/403) for one identity.'),
  rateAnomaly: z.object({
    enabled: z.boolean().default(true),
    bucketMs: z.number().int().min(1000).max(3600_000).default(10_000).describe('Rate is counted per identity in buckets of this length.'),
    factor: z.number().min(1.5).max(1000).default(10).describe('Fires when a bucket exceeds `factor` × the identity\'s usual (EWMA) rate…'),
    minRequests: z.number().int().min(1).max(10_000_000).default(200).describe('…and has at least this many requests.'),
    alpha: z.number().gt(0).lt(1).default(0.1).describe('EWMA smoothing factor per bucket.'),
    warmupBuckets: z.number().int().min(1).max(10_000).default(6).describe('Buckets of history needed before an identity can fire.'),
    actions: z.array(action).min(1).default(['alert']),
    blockMs: z.number().int().min(1000).max(30 * 24 * 3600 * 1000).default(300_000),
  }).strict().default({ enabled: true, bucketMs: 10_000, factor: 10, minRequests: 200, alpha: 0.1, warmupBuckets: 6, actions: ['alert'], blockMs: 300_000 }).describe('Request rate far above an identity\'s usual rate.'),
  maxKeys: z.number().int().min(1000).max(10_000_000).default(100_000).describe('Most counters kept per rule; the least recently used are forgotten.'),
  blockRefreshMs: z.number().int().min(500).max(600_000).default(5000).describe('How often each instance re-reads active blocks from the store (events on the bus update it at once).'),
  retentionDays: z.number().int().min(0).max(36_500).default(90).describe('Alerts raised longer ago than this, and blocks that ended (expired or lifted) longer ago than this, are deleted from the store (checked every hour). The audit log keeps its own record of each. 0 keeps them forever.'),
}).strict();

export type DetectConfig = z.infer<typeof detectSchema>;
