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

export const ratelimitSchema = z.object({
  url: z.string()
    .refine((u) => u === 'memory:' || /^rediss?:\/\/\S+$/.test(u), 'must be `memory:` or a `redis://` / `rediss://` URL')
    .default('memory:')
    .describe('`memory:` (per instance) or `redis://[user:pass@]host:port[/db]` (shared by all instances; required for correct limits with several instances).'),
  failOpen: z.boolean().default(false).describe('When Redis cannot answer: `false` refuses the request with 503 ERR_RATELIMIT_UNAVAILABLE; `true` lets it through unchecked (logged, `ratelimit.unavailable` event).'),
  timeoutMs: z.number().int().min(10).max(10_000).default(500).describe('Redis: longest wait for one decision before it counts as unavailable.'),
  keyPrefix: z.string().min(1).max(128).default('gatehouse:rl:').describe('Redis: prefix of every key.'),
  maxKeys: z.number().int().min(100).max(100_000_000).default(100_000).describe('Memory: most keys kept; beyond it the least recently used key is forgotten.'),
  edge: z.object({
    enabled: z.boolean().default(true),
    ...limitFields,
    rate: limitFields.rate.default(100),
    periodMs: limitFields.periodMs.default(1000),
    burst: limitFields.burst.default(200),
  }).strict().refine(...refillsInTime).default({ enabled: true, rate: 100, periodMs: 1000, burst: 200 }).describe('Per client address, before authentication (shield stage): cheap protection against floods.'),
  identity: z.object({
    enabled: z.boolean().default(true),
    ...limitFields,
    rate: limitFields.rate.default(50),
    periodMs: limitFields.periodMs.default(1000),
    burst: limitFields.burst.default(100),
    routes: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a route id'), rateLimitSchema).default({}).describe('Per-route overrides of the identity limit, by route id.'),
  }).strict().refine(...refillsInTime).default({ enabled: true, rate: 50, periodMs: 1000, burst: 100, routes: {} }).describe('Per authenticated identity and route, after authorization (unauthenticated requests on public routes: per client address and route).'),
}).strict();

export type RatelimitConfig = z.infer<typeof ratelimitSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
