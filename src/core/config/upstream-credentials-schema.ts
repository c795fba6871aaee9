/**
 * Schema of `upstreams.<name>.credentials`: what the gateway itself presents to an upstream
 * (an API key, a static bearer token, a basic-auth pair), so that clients never hold it
 * (docs/credential-isolation.md). Each value is written as `${ENV_VAR}` or read from a file
 * (`…File`) when a generation is built (src/gateway/upstream/credentials.ts).
 *
 * Header names that would change how the request is framed or routed, or that Gatehouse
 * sets itself, are refused here: an injected `Transfer-Encoding` or `Host` would let the
 * configuration smuggle or misroute requests, and `x-gatehouse-*` belongs to the identity
 * assertion.
 */
import { z } from 'zod';

/** Names a credential header may not have: hop-by-hop, framing, routing, or set by Gatehouse. */
const FORBIDDEN = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer', 'http2-settings',
  'host', 'content-length', 'content-type', 'content-encoding', 'expect',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip',
  'x-request-id', 'traceparent', 'tracestate', 'cookie',
]);

function forbiddenName(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (FORBIDDEN.has(lower)) return `${lower} is a hop-by-hop, framing or Gatehouse-set header`;
  if (lower.startsWith('x-gatehouse-')) return 'x-gatehouse-* is Gatehouse\'s reserved namespace';
  if (lower.startsWith('proxy-')) return 'proxy-* headers are hop-by-hop';
  return undefined;
}

/** An RFC 9110 token, as header names are. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;

/** Why a header name cannot carry a credential, or undefined. Checked on the object (zod reports a record key's own issue only as "Invalid key in record"). */
function headerNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return 'not a header name (RFC 9110 token)';
  const why = forbiddenName(name);
  return why === undefined ? undefined : `not allowed as a credential header: ${why}`;
}

/**
 * A secret value. The message never quotes it; control characters are refused because CR/LF
 * would split the upstream request's header section and NUL truncates it.
 */
export const credentialValue = z.string().min(1).max(8192)
  .refine((v) => !/[\x00-\x08\x0a-\x1f\x7f]/.test(v), 'contains a control character (CR, LF, NUL…): it would split or truncate the header');

const filePath = z.string().min(1).describe('File whose content (one trailing newline removed) is the value; read when the configuration is loaded or reloaded, and refused when other users of the machine can read or write it.');

export const upstreamCredentialsSchema = z.object({
  headers: z.record(z.string(), credentialValue).default({}).describe('Header name → value sent to this upstream, e.g. `x-api-key: ${LEGACY_KEY}`.'),
  headerFiles: z.record(z.string(), filePath).default({}).describe('Header name → file holding its value (e.g. `/run/secrets/legacy-key`).'),
  bearer: credentialValue.optional().describe('Static token sent as `Authorization: Bearer <token>`.'),
  bearerFile: filePath.optional().describe('File holding the bearer token.'),
  basic: z.object({
    username: z.string().min(1).max(1024).refine((u) => !u.includes(':') && !/[\x00-\x1f\x7f]/.test(u), 'no colon or control character (RFC 7617)'),
    password: credentialValue.optional(),
    passwordFile: filePath.optional(),
  }).strict().refine((b) => (b.password === undefined) !== (b.passwordFile === undefined), { message: 'exactly one of password and passwordFile', path: ['password'] })
    .optional().describe('Sent as `Authorization: Basic base64(username:password)`.'),
  publicRoutes: z.boolean().default(false).describe('Allow routes with `access: public` to this upstream, on which anyone, unauthenticated, acts with this credential (a public proxy for a third-party API key, say). Without it such a route is warned about, and refused in production.'),
}).strict().superRefine((c, ctx) => {
  // Each header has one source: two would leave it to key order which credential is sent.
  const seen = new Map<string, string>();
  const claim = (name: string, path: (string | number)[]) => {
    const problem = headerNameProblem(name);
    if (problem !== undefined) { ctx.addIssue({ code: 'custom', path, message: problem }); return; }
    const lower = name.toLowerCase();
    const before = seen.get(lower);
    if (before !== undefined) ctx.addIssue({ code: 'custom', path, message: `${lower} is already set by ${before}` });
    else seen.set(lower, path.join('.'));
  };
  for (const name of Object.keys(c.headers)) claim(name, ['headers', name]);
  for (const name of Object.keys(c.headerFiles)) claim(name, ['headerFiles', name]);
  if (c.bearer !== undefined) claim('authorization', ['bearer']);
  if (c.bearerFile !== undefined) claim('authorization', ['bearerFile']);
  if (c.basic !== undefined) claim('authorization', ['basic']);
}).describe('Credentials the gateway adds to every request it forwards to this upstream, replacing any header of the same name the client sent: clients never hold them (docs/credential-isolation.md).');

export type UpstreamCredentialsConfig = z.infer<typeof upstreamCredentialsSchema>;

/**
 * Routes with `access: public` to an upstream with credentials: anyone on the network acts with
 * the credential through the gateway, unauthenticated. A warning (refused in production) unless
 * the upstream says `credentials.publicRoutes: true`.
 */
export function publicCredentialRouteWarnings(config: { upstreams: Record<string, { credentials?: UpstreamCredentialsConfig | undefined }>; routes: readonly { id: string; upstream: string; access: string }[] }): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  config.routes.forEach((route, i) => {
    const credentials = route.access === 'public' ? config.upstreams[route.upstream]?.credentials : undefined;
    if (credentials === undefined || credentials.publicRoutes) return;
    out.push({ path: ['routes', i, 'access'], message: `route ${route.id} is public and its upstream ${route.upstream} has credentials: anyone, unauthenticated, uses them through the gateway (set upstreams.${route.upstream}.credentials.publicRoutes: true if that is the intent)` });
  });
  return out;
}
