/**
 * Schema of authorization policy and of the identity assertion sent to upstreams (`policy` key).
 * Policy text itself lives in files (`<dir>/<set>.cedar`), not in the configuration.
 */
import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dot, dash, underscore');
const routeId = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a route id');
const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export const operationSchema = z.object({
  name: name.describe('Action id in policies: `Gatehouse::Action::"<name>"` (a child of its method\'s action).'),
  method,
  path: z.string().regex(/^\/[^\s?#]*$/, 'must start with / and have no query, fragment or whitespace').describe('Exact request path, or a prefix ending in `*`; matched ignoring letter case and a trailing slash (`/docs/EXPORT/` is `/docs/export`), as most upstream frameworks route.'),
}).strict();

export const assertionSchema = z.object({
  issuer: z.url().optional().describe('`iss` of identity assertions. Default: the gateway\'s publicUrl.'),
  ttlSeconds: z.number().int().min(10).max(600).default(60).describe('Lifetime of an identity assertion. Cached assertions are re-signed when less than a quarter of this remains.'),
  keyRotationHours: z.number().int().min(1).max(24 * 365).default(24).describe('How often a new assertion signing key is generated; the previous key stays in the JWKS until every assertion it signed has expired.'),
  cacheSize: z.number().int().min(0).max(10_000_000).default(10_000).describe('Most cached signed assertions (cached mode); 0 signs every request.'),
}).strict();

export const policySchema = z.object({
  dir: z.string().min(1).default('policies').describe('Directory of policy sets, relative to the configuration file: `<set>.cedar`, with an optional `<set>.cedarschema` (validated strictly when present).'),
  roles: z.record(name, z.array(name)).default({}).describe('Role hierarchy: role → roles it inherits (`admin: [editor]` makes every admin `in Gatehouse::Role::"editor"`).'),
  routeGroups: z.record(name, z.array(routeId)).default({}).describe('Route group → route ids; a route is `in Gatehouse::RouteGroup::"<group>"`.'),
  operations: z.record(routeId, z.array(operationSchema)).default({}).describe('Named operations per route id; a matching request\'s action is the operation instead of the bare method.'),
  contextHeaders: z.array(z.string().regex(/^[a-z0-9-]{1,64}$/, 'a lower-case header name')).max(32).default([]).describe('Request headers copied into `context.headers` for attribute-based rules. Identity headers are never copied. A request sending one of them more than once is refused (400 ERR_REQUEST_HEADER_INVALID).'),
  cacheSize: z.number().int().min(0).max(10_000_000).default(10_000).describe('Most cached policy decisions; 0 disables the decision cache.'),
  assertion: assertionSchema.default({ ttlSeconds: 60, keyRotationHours: 24, cacheSize: 10_000 }),
}).strict();

export type PolicyConfig = z.infer<typeof policySchema>;
export type PolicyConfigInput = z.input<typeof policySchema>;
export type AssertionConfig = z.infer<typeof assertionSchema>;
