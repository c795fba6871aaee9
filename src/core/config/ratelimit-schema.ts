/**
 * Schema of rate limiting (`ratelimit` key). Limits are GCRA: `rate` requests per
 * `periodMs` on average, up to `burst` at once (docs/rate-limiting.md).
 */
import { z } from 'zod';
import { MAX_WINDOW_MS, windowOf } from '../../ratelimit/gcra.ts';

const limitFields = {
  rate: z.number().positive().max(1_000_000).describe('Requests allowed per period, on average.'),
  periodMs: z.number().int().min(1).max(24 * 3600 * 1000).describe('Length of the period in milliseconds.'),
  burst: z.number().int().min(1).max(1_000_000).describe('Most requests allowed at once (bucket size).'),
};

/** Tiny rates overflow the arithmetic, the headers and Redis expiries (gcra.ts MAX_WINDOW_MS). */
const refillsInTime = [
  (limit: { rate: number; periodMs: number; burst: number }) => windowOf(limit) <= MAX_WINDOW_MS,
  'burst × periodMs / rate (the time an empty bucket takes to refill) must be at most ten years',
] as const;

export const rateLimitSchema = z.object(limitFields).strict().refine(...refillsInTime);

/** Defaults of the IPv6 prefix aggregate (docs/rate-limiting.md, "IPv6 prefix rotation"). */
const IPV6_PREFIX_DEFAULT = { enabled: true, length: 48, factor: 10 };

/**
 * One IPv6 client is a /64 bucket, but one customer often holds a /48: 65 536 /64s, so 65 536
 * buckets. The prefix bucket holds all the /64s of the enclosing prefix to `factor` times the
 * per-/64 limit, so rotating through them gains `factor`, not 65 536.
 */
const ipv6PrefixSchema = z.object({
  enabled: z.boolean().default(IPV6_PREFIX_DEFAULT.enabled),
  length: z.number().int().min(32).max(63).default(IPV6_PREFIX_DEFAULT.length).describe('Prefix length of the aggregate bucket (a customer\'s allocation; /48 is common, /56 for many residential lines).'),
  factor: z.number().int().min(1).max(1000).default(IPV6_PREFIX_DEFAULT.factor).describe('The prefix bucket allows `factor` × the per-/64 rate and burst.'),
}).strict().default(IPV6_PREFIX_DEFAULT)
  .describe('Aggregate bucket per IPv6 prefix, on top of the per-/64 bucket: stops a client from multiplying its limit by rotating through the /64s of its prefix.');

export const ratelimitSchema = z.object({
  url: z.string()
    .refine((u) => u === 'memory:' || /^rediss?:\/\/\S+$/.test(u), 'must be `memory:` or a `redis://` / `rediss://` URL')
    .default('memory:')
    .describe('`memory:` (per instance) or `redis://[user:pass@]host:port[/db]` (shared by all instances; required for correct limits with several instances).'),
  failOpen: z.boolean().default(false).describe('When Redis cannot answer: `false` refuses the request with 503 ERR_RATELIMIT_UNAVAILABLE; `true` lets an in-memory limiter of each instance decide until Redis answers again (logged, `ratelimit.unavailable` event).'),
  fallbackInstances: z.number().int().min(1).max(1000).default(1).describe('failOpen: while Redis cannot answer, each instance enforces rate and burst divided by this. `1` keeps the full limits per instance (N instances allow up to N times a limit); set the instance count to hold the fleet-wide figure when the load balancer spreads each client evenly.'),
  timeoutMs: z.number().int().min(10).max(10_000).default(500).describe('Redis: longest wait for one decision before it counts as unavailable.'),
  keyPrefix: z.string().min(1).max(128).default('gatehouse:rl:').describe('Redis: prefix of every key.'),
  maxKeys: z.number().int().min(100).max(100_000_000).default(100_000).describe('Memory: most keys kept; beyond it the least recently used key is forgotten.'),
  edge: z.object({
    enabled: z.boolean().default(true),
    ...limitFields,
    rate: limitFields.rate.default(100),
    periodMs: limitFields.periodMs.default(1000),
    burst: limitFields.burst.default(200),
    ipv6Prefix: ipv6PrefixSchema,
  }).strict().refine(...refillsInTime).default({ enabled: true, rate: 100, periodMs: 1000, burst: 200, ipv6Prefix: IPV6_PREFIX_DEFAULT }).describe('Per client address, before authentication (shield stage): cheap protection against floods.'),
  identity: z.object({
    enabled: z.boolean().default(true),
    ...limitFields,
    rate: limitFields.rate.default(50),
    periodMs: limitFields.periodMs.default(1000),
    burst: limitFields.burst.default(100),
    routes: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a route id'), rateLimitSchema).default({}).describe('Per-route overrides of the identity limit, by route id.'),
    ipv6Prefix: ipv6PrefixSchema.describe('Anonymous requests only (keyed by address): aggregate bucket per IPv6 prefix and route, on top of the per-/64 one.'),
  }).strict().refine(...refillsInTime).default({ enabled: true, rate: 50, periodMs: 1000, burst: 100, routes: {}, ipv6Prefix: IPV6_PREFIX_DEFAULT }).describe('Per authenticated identity and route, after authorization (unauthenticated requests on public routes: per client address and route).'),
}).strict();

export type RatelimitConfig = z.infer<typeof ratelimitSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
