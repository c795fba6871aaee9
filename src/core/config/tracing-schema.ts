/**
 * Schema of span export (`tracing` key): one OpenTelemetry SERVER span per request, sent
 * over OTLP/HTTP (JSON) to a collector (docs/observability.md). Off by default.
 */
import { z } from 'zod';

/** A header field name (RFC 9110 token); values must not be able to add header lines. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'must be an HTTP header name');
// The message never quotes the value: it is usually a secret (an API key).
const headerValue = z.string().max(8192).refine((v) => !/[\0\r\n]/.test(v), 'must not contain CR, LF or NUL');

export const tracingSchema = z.object({
  enabled: z.boolean().default(false).describe('Export one OpenTelemetry SERVER span per request on the public listener. Off: no per-request tracing work at all (the trace context is still propagated).'),
  endpoint: z.url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
    .refine((u) => { const url = new URL(u); return !url.search && !url.hash; }, 'must not contain a query or fragment')
    .default('http://127.0.0.1:4318/v1/traces')
    .describe('OTLP/HTTP traces endpoint, the full URL (a collector\'s `/v1/traces`); spans are sent as JSON. Userinfo (`https://user:pass@host/…`) is sent as Basic authentication and never logged.'),
  headers: z.record(headerName, headerValue).default({}).describe('Headers sent with every export, e.g. `authorization: Bearer ${OTLP_TOKEN}`; write secrets as `${ENV_VAR}`. Values are never logged.'),
  serviceName: z.string().min(1).max(256).default('gatehouse').describe('`service.name` of the exported spans (`service.instance.id` is `instanceId`).'),
  sampleRatio: z.number().min(0).max(1).default(1).describe('Fraction of new traces (requests without a valid incoming `traceparent`) that are sampled, and of requests whose sampled flag is not followed (`clientSampledFlag`); the flag sent upstream is the decision.'),
  clientSampledFlag: z.enum(['follow', 'trustedProxies', 'ignore']).default('trustedProxies').describe('Whose `traceparent` sampled flag decides (parent-based sampling): `follow` every client\'s, `trustedProxies` only a trusted proxy\'s (`trustedProxies`), `ignore` nobody\'s. A flag not followed leaves the decision to `sampleRatio`; the trace id is continued either way. Following any client lets it force every request of its own into export (queue and collector load) whatever `sampleRatio` says.'),
  maxQueueSize: z.number().int().min(1).max(1_000_000).default(2048).describe('Finished spans kept in memory while waiting for export; further spans are dropped and counted (`gatehouse_tracing_spans_dropped_total`).'),
  maxExportBatchSize: z.number().int().min(1).max(100_000).default(512).describe('Most spans sent in one export request; a full batch is sent at once.'),
  scheduledDelayMs: z.number().int().min(1).max(3600_000).default(5000).describe('Longest a span waits in the queue before its batch is sent.'),
  exportTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('Time one export request (with its retries) may take; after it the batch counts as dropped.'),
  shutdownTimeoutMs: z.number().int().min(0).max(600_000).default(5000).describe('On shutdown, how long queued spans may take to be sent; what is left then is dropped.'),
}).strict().superRefine((t, ctx) => {
  if (t.maxExportBatchSize > t.maxQueueSize) ctx.addIssue({ code: 'custom', path: ['maxExportBatchSize'], message: 'must not exceed maxQueueSize' });
});

export type TracingConfig = z.infer<typeof tracingSchema>;
