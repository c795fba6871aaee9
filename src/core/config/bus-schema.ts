/**
 * Schema of the event bus (`bus` key): in-process by default, NATS JetStream to share
 * events between instances and keep them across restarts.
 */
import { z } from 'zod';
import { DEFAULT_HANDLER_TIMEOUT_MS, MAX_HANDLER_TIMEOUT_MS } from '../../bus/handler-timeout.ts';
import { DEFAULT_MAX_BUFFER_BYTES, MAX_MAX_BUFFER_BYTES, MIN_MAX_BUFFER_BYTES } from '../../bus/buffer-budget.ts';
import { DEFAULT_MAX_EVENT_BYTES, MAX_MAX_EVENT_BYTES, MIN_MAX_EVENT_BYTES } from '../../bus/event-size.ts';

export const busSchema = z.object({
  url: z.string()
    .refine((u) => u === 'memory:' || /^(nats|tls):\/\/[^/\s]+$/.test(u), 'must be `memory:` or `nats://host:port` (`tls://host:port` for TLS)')
    .default('memory:')
    .describe('`memory:` (in-process; durable subscriptions are not kept across restarts) or `nats://[user:pass@]host:port` (JetStream).'),
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, dash, underscore').default('GATEHOUSE').describe('NATS: JetStream stream holding the events; created when missing.'),
  subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens').default('gatehouse').describe('NATS: events are published to `<subjectPrefix>.<event name>`; the stream captures `<subjectPrefix>.>`.'),
  maxAgeMs: z.number().int().min(60_000).max(365 * 24 * 3600 * 1000).default(7 * 24 * 3600 * 1000).describe('NATS: how long the stream keeps events (set when Gatehouse creates the stream), and how long the server keeps a durable subscription group nobody pulls from; a durable subscriber away for longer starts again with new events.'),
  maxBuffer: z.number().int().min(100).max(10_000_000).default(10_000).describe('Events buffered for publication (NATS) or per subscriber (memory) before new events are dropped and counted.'),
  maxBufferBytes: z.number().int().min(MIN_MAX_BUFFER_BYTES).max(MAX_MAX_BUFFER_BYTES).default(DEFAULT_MAX_BUFFER_BYTES).describe('NATS: bytes of event JSON buffered for publication, and waiting in each live subscriber\'s inbox, before new events are dropped, counted and logged (with `maxBuffer`, whichever is reached first; an empty queue takes any event).'),
  handlerTimeoutMs: z.number().int().min(1).max(MAX_HANDLER_TIMEOUT_MS).default(DEFAULT_HANDLER_TIMEOUT_MS).describe(`How long a subscriber's handler may take for one event; past it the delivery counts as failed (NATS durable: redelivered), logged as ERR_BUS_HANDLER_TIMEOUT and counted in \`handlerTimeouts\`, and the next event goes ahead. At most ${MAX_HANDLER_TIMEOUT_MS} ms: below JetStream's 30 s ack wait.`),
  maxEventBytes: z.number().int().min(MIN_MAX_EVENT_BYTES).max(MAX_MAX_EVENT_BYTES).default(DEFAULT_MAX_EVENT_BYTES).describe('Largest event envelope, in bytes of its JSON; a larger event is refused at publish on every backend (a counted drop, ERR_BUS_EVENT_TOO_LARGE). NATS: a server with a smaller `max_payload` lowers it; the default stays below NATS\'s default 1 MiB.'),
}).strict();

export type BusConfig = z.infer<typeof busSchema>;
