/**
 * Schema of the event bus (`bus` key): in-process by default, NATS JetStream to share
 * events between instances and keep them across restarts.
 */
import { z } from 'zod';

export const busSchema = z.object({
  url: z.string()
    .refine((u) => u === 'memory:' || /^(nats|tls):\/\/[^/\s]+$/.test(u), 'must be `memory:` or `nats://host:port` (`tls://host:port` for TLS)')
    .default('memory:')
    .describe('`memory:` (in-process; durable subscriptions are not kept across restarts) or `nats://[user:pass@]host:port` (JetStream).'),
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, dash, underscore').default('GATEHOUSE').describe('NATS: JetStream stream holding the events; created when missing.'),
  subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens').default('gatehouse').describe('NATS: events are published to `<subjectPrefix>.<event name>`; the stream captures `<subjectPrefix>.>`.'),
  maxAgeMs: z.number().int().min(60_000).max(365 * 24 * 3600 * 1000).default(7 * 24 * 3600 * 1000).describe('NATS: how long the stream keeps events (set when Gatehouse creates the stream), and how long the server keeps a durable subscription group nobody pulls from; a durable subscriber away for longer starts again with new events.'),
  maxBuffer: z.number().int().min(100).max(10_000_000).default(10_000).describe('Events buffered for publication (NATS) or per subscriber (memory) before new events are dropped and counted.'),
}).strict();

export type BusConfig = z.infer<typeof busSchema>;
