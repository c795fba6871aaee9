/**
 * Schema of the gateway's own configuration: listeners, TLS, limits, proxies, upstreams, routes.
 * Every object is `.strict()` so that an unknown key is an error naming its path.
 */
import { z } from 'zod';
import { ipRulesSchema } from './ip-rules-schema.ts';
import { upstreamCredentialsSchema } from './upstream-credentials-schema.ts';
import { approvalSchema } from './approval-schema.ts';

const port = z.number().int().min(0).max(65535);
const durationMs = z.number().int().min(1).max(24 * 3600 * 1000);
const bytes = z.number().int().min(0).max(2 ** 40);

export const tlsSchema = z.object({
  cert: z.string().min(1).optional().describe('PEM certificate chain file. Omitted: a self-signed localhost certificate is generated in the data directory (development only).'),
  key: z.string().min(1).optional().describe('PEM private key file for `cert`.'),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Lowest TLS version accepted. TLS 1.0/1.1 are never accepted.'),
  ticketKeyRotationMs: z.number().int().min(1000).max(24 * 3600 * 1000).default(3_600_000).describe('How often the key that encrypts TLS session tickets is replaced by a fresh random one; the old key is discarded. A key read from memory decrypts (TLS 1.2) or forges only the tickets of its own interval. Node keeps one key, so a client returning across a rotation makes a full handshake instead of resuming.'),
}).strict();

export const hstsSchema = z.object({
  enabled: z.boolean().default(true).describe('Send Strict-Transport-Security on every HTTPS response, so that browsers never again try plain HTTP for the host (an `http://` link or typed address would otherwise be open to SSL stripping through the redirect listener). Not sent for `localhost` and IP addresses (browsers ignore it there, and on `localhost` it would force HTTPS on every local port). Replaces an upstream\'s own field: the gateway owns the host\'s transport.'),
  maxAgeSeconds: z.number().int().min(0).max(2 * 365 * 24 * 3600).default(365 * 24 * 3600).describe('How long browsers remember it (max-age). 0 tells them to forget it.'),
  includeSubDomains: z.boolean().default(false).describe('Also every subdomain of the host (only if all of them serve HTTPS).'),
  preload: z.boolean().default(false).describe('Ask to be in browsers\' built-in HSTS lists (needs includeSubDomains and a max-age of at least a year).'),
}).strict().refine((h) => !h.preload || (h.includeSubDomains && h.maxAgeSeconds >= 365 * 24 * 3600), { message: 'preload needs includeSubDomains and maxAgeSeconds of at least 31536000', path: ['preload'] });

const HSTS_DEFAULT = { enabled: true, maxAgeSeconds: 365 * 24 * 3600, includeSubDomains: false, preload: false };

export const listenersSchema = z.object({
  https: z.object({
    host: z.string().default('0.0.0.0').describe('Address of the public HTTPS listener.'),
    port: port.default(8443),
    tls: tlsSchema.default({ minVersion: 'TLSv1.2', ticketKeyRotationMs: 3_600_000 }),
    hsts: hstsSchema.default(HSTS_DEFAULT),
    clientCertificates: z.enum(['off', 'optional']).default('optional').describe('`optional`: ask clients for a certificate from Gatehouse\'s CA (services authenticate with their SPIFFE identity; browsers without one are unaffected). `off`: never ask.'),
  }).strict().default({ host: '0.0.0.0', port: 8443, tls: { minVersion: 'TLSv1.2', ticketKeyRotationMs: 3_600_000 }, clientCertificates: 'optional', hsts: HSTS_DEFAULT }),
  http: z.object({
    enabled: z.boolean().default(true).describe('Plain-HTTP listener that only redirects to HTTPS.'),
    host: z.string().default('0.0.0.0'),
    port: port.default(8080),
  }).strict().default({ enabled: true, host: '0.0.0.0', port: 8080 }),
  ops: z.object({
    host: z.string().default('127.0.0.1').describe('Operations listener (/healthz, /readyz, /metrics); keep it off public networks.'),
    port: port.default(9090),
    allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/, 'a DNS name (no port, no scheme)').max(253)).max(100).default([])
      .describe('DNS names, besides `localhost` and IP addresses, that clients may put in Host to reach the ops listener (a Kubernetes Service name that Prometheus scrapes, say; ports are ignored). Any other Host is refused with 421: after DNS rebinding, a web page in the browser of someone on this host could otherwise read /metrics and /readyz under its own name.'),
    maxConnections: z.number().int().min(1).max(10_000).default(64)
      .describe('Most concurrent connections to the ops listener; a connection beyond it is closed as soon as it is accepted, and the ones already open keep working. Probes and scrapes need a handful; without a bound, whatever can reach the listener (often every pod of the cluster) could open connections until the process runs out of file descriptors, which the public listener needs too. A client that fills it blocks probes until its connections time out (5 s for a request head, 10 s for a request), so keep the listener reachable by probes and Prometheus only.'),
  }).strict().default({ host: '127.0.0.1', port: 9090, allowedHosts: [], maxConnections: 64 }),
}).strict();

export const limitsSchema = z.object({
  maxHeaderBytes: bytes.default(16 * 1024).describe('Largest request header section; larger is refused with 431.'),
  maxHeaderCount: z.number().int().min(1).max(1000).default(100).describe('Most request header fields; more is refused with 431.'),
  maxBodyBytes: bytes.default(10 * 1024 * 1024).describe('Default largest request body; routes may lower or raise it. Larger is refused with 413.'),
  requestTimeoutMs: durationMs.default(60_000).describe('Time a client has to send the whole request.'),
  headersTimeoutMs: durationMs.default(10_000).describe('Time a client has to send the request headers (slowloris protection).'),
  keepAliveTimeoutMs: durationMs.default(5_000).describe('Idle time before a client keep-alive connection is closed.'),
  sendTimeoutMs: durationMs.default(60_000).describe('Longest a client may leave the response bytes Gatehouse has for it unread before it is disconnected (slow-read protection, like nginx send_timeout). A client waiting on a slow upstream is not affected: the route timeouts decide that.'),
  maxConnections: z.number().int().min(1).max(1_000_000).default(20_000).describe('Most concurrent client connections per listener.'),
  shutdownGraceMs: durationMs.default(10_000).describe('Time in-flight requests get to finish on shutdown.'),
}).strict();

export const timeoutsSchema = z.object({
  connectMs: durationMs.default(5_000).describe('Opening a connection to the upstream: TCP connect and, for mutual TLS, the handshake (504 ERR_GATEWAY_UPSTREAM_TIMEOUT). A request that finds a free kept-alive connection does not wait for one. Routes to one upstream with different values get a connection pool each (each with the upstream\'s `connections`).'),
  headersMs: durationMs.default(30_000).describe('Waiting for the upstream response headers.'),
  idleMs: durationMs.default(30_000).describe('Longest silence of the upstream while it sends the response body. A client that uploads slowly is bounded by limits.requestTimeoutMs, one that stops reading the response by totalMs.'),
  totalMs: durationMs.default(120_000).describe('Whole exchange, start to end of response body; checked every 100 ms, so it fires up to 100 ms late, never early (504 before the response starts, cut off after).'),
  tunnelIdleMs: durationMs.default(300_000).describe('After a WebSocket upgrade: longest time neither side sends anything before both connections are closed (like HAProxy `timeout tunnel`). Applications that keep a quiet socket open send pings more often than this.'),
}).strict();

export const upstreamSchema = z.object({
  url: z.url().refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL').describe('Origin of the upstream service (scheme://host:port); any path is a prefix added to forwarded paths.'),
  connections: z.number().int().min(1).max(10_000).default(256).describe('Most keep-alive connections to this upstream.'),
  pipelining: z.number().int().min(1).max(100).default(1),
  keepAliveTimeoutMs: durationMs.default(4_000),
  tls: z.object({
    spiffeId: z.string().regex(/^spiffe:\/\/[^/\s]+\/[^\s]+$/, 'a SPIFFE id: spiffe://<trust domain>/<path>').describe('Expected SPIFFE id of the upstream. Gatehouse connects with mutual TLS, presenting its own workload certificate from the built-in CA, and refuses an upstream with another identity (502 ERR_GATEWAY_UPSTREAM_IDENTITY_MISMATCH). Requires an https:// url and pki.enabled.'),
    checkHostname: z.boolean().default(false).describe('Also check the upstream host name against its certificate (by default the SPIFFE id alone is checked, for upstreams addressed by IP).'),
  }).strict().optional().describe('Mutual TLS to this upstream.'),
  credentials: upstreamCredentialsSchema.optional(),
}).strict();

export const routeSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, dot, dash, underscore').describe('Stable route name, used in metrics, logs, audit and policy.'),
  host: z.string().default('*').describe('Host name to match (no port), or `*` for any.'),
  path: z.string().regex(/^\/([^\s?#]*)$/, 'must start with / and have no query, fragment or whitespace').default('/').describe('Path prefix, matched on whole segments after normalization; the longest prefix wins.'),
  upstream: z.string().min(1).describe('Name of an entry in `upstreams`.'),
  stripPrefix: z.boolean().default(false).describe('Remove the matched prefix before forwarding.'),
  methods: z.array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])).optional().describe('Methods accepted; others get 405, also when a method-override header or `_method` query parameter names them (docs/request-path.md). Omitted: all but TRACE, which is never forwarded, nor named by an override (the upstream would echo the identity assertion and other headers Gatehouse adds).'),
  maxBodyBytes: bytes.optional().describe('Largest request body for this route (default: limits.maxBodyBytes).'),
  ipRules: ipRulesSchema.optional().describe('Which clients may use this route, on top of the top-level `ipRules` (a client must pass both): e.g. an admin route only from the office network. Checked by the shield stage, before any identity work.'),
  timeouts: timeoutsSchema.default({ connectMs: 5_000, headersMs: 30_000, idleMs: 30_000, totalMs: 120_000, tunnelIdleMs: 300_000 }),
  websocket: z.boolean().default(false).describe('Allow WebSocket upgrades on this route.'),
  approval: approvalSchema.optional().describe('Two-person approval: matching requests wait for a second person\'s approval and then run once (docs/approvals.md).'),
  access: z.enum(['public', 'authenticated', 'policy']).default('policy').describe('`public`: no authentication; `authenticated`: any verified principal; `policy`: authenticated, then the policy set must allow (default deny).'),
  authentication: z.object({
    methods: z.array(z.enum(['session', 'jwt', 'api_token', 'mtls'])).min(1).default(['session', 'jwt', 'api_token', 'mtls']).describe('Credential kinds accepted on this route.'),
    browserLogin: z.boolean().default(false).describe('Redirect a browser without a session to the login flow instead of answering 401.'),
    audiences: z.array(z.string()).optional().describe('Accepted `aud` values for bearer JWTs (default: the route id and the public URL).'),
  }).strict().default({ methods: ['session', 'jwt', 'api_token', 'mtls'], browserLogin: false }),
  stepUp: z.object({
    maxAgeSeconds: z.number().int().min(1).max(86_400).describe('Longest time since the principal\'s last second factor (TOTP, security key…) before the request needs a fresh one.'),
    methods: z.array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])).min(1).optional().describe('Methods that need the fresh second factor (omitted: all). Split a route by path prefix for per-path rules.'),
  }).strict().optional().describe('Step-up: a recent second factor for this route. Principals that cannot show one (services on mTLS or client credentials, API tokens) are refused with 401 ERR_AUTHN_STEP_UP_REQUIRED; not with access: public.'),
  policy: z.string().optional().describe('Name of the policy set that authorizes this route; only with access: policy (with another access it would never be consulted, and is refused). Missing set: every request is denied.'),
  upstreamIdentity: z.object({
    assertion: z.enum(['cached', 'per-request', 'none']).default('cached').describe('Signed identity assertion sent to the upstream: cached per principal session and upstream (~1 min), bound to each request (method, path, request id), or none.'),
    headers: z.boolean().default(false).describe('Also send plain identity headers (x-gatehouse-subject, -roles, -kind) for legacy upstreams.'),
  }).strict().default({ assertion: 'cached', headers: false }),
}).strict();

export type TlsConfig = z.infer<typeof tlsSchema>;
export type ListenersConfig = z.infer<typeof listenersSchema>;
export type LimitsConfig = z.infer<typeof limitsSchema>;
export type TimeoutsConfig = z.infer<typeof timeoutsSchema>;
export type UpstreamConfig = z.infer<typeof upstreamSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
