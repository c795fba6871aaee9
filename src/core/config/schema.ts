/**
 * The whole configuration schema. Each area owns a `*-schema.ts` file next to this one;
 * this file only composes them. Defaults live in the schemas and nowhere else.
 * docs/configuration.md is generated from this schema (`npm run docs`).
 */
import { z } from 'zod';
import { limitsSchema, listenersSchema, routeSchema, upstreamSchema } from './gateway-schema.ts';
import { pkiSchema } from './pki-schema.ts';
import { identitySchema } from './identity-schema.ts';
import { authnSchema } from './authn-schema.ts';
import { policySchema } from './policy-schema.ts';
import { busSchema } from './bus-schema.ts';
import { ratelimitSchema } from './ratelimit-schema.ts';
import { storeSchema } from './store-schema.ts';
import { auditSchema } from './audit-schema.ts';
import { detectSchema } from './detect-schema.ts';
import { tracingSchema } from './tracing-schema.ts';
import { ipRulesSchema } from './ip-rules-schema.ts';

export const configSchema = z.object({
  mode: z.enum(['development', 'production']).optional().describe('Defaults to `production` when NODE_ENV=production, else `development`. Production refuses development conveniences; `development` is refused when NODE_ENV=production.'),
  dataDir: z.string().default('./gatehouse-data').describe('Directory for the embedded store, generated keys and certificates. Created 0700; refused when it is world-writable or belongs to another user (root excepted), warned about when group-writable.'),
  instanceId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional().describe('Name of this instance in logs, metrics and audit. Default: host name and process id.'),
  publicUrl: z.url().optional().describe('External origin of the gateway (issuer of tokens); its port is also where the HTTP listener redirects to (behind a load balancer mapping 443 to the listener). Default: https://localhost:<https port>.'),
  store: storeSchema.default(storeSchema.parse({})),
  listeners: listenersSchema.default(listenersSchema.parse({})),
  trustedProxies: z.array(z.string()).default([]).describe('CIDRs (or addresses) of proxies whose X-Forwarded-*, Forwarded and X-Request-Id headers are believed; a CIDR is written as its network (`10.0.0.5/8` is refused). Others are overwritten.'),
  ipRules: ipRulesSchema.default({ allow: [], deny: [] }).describe('Which clients may use the public listener at all, by the client address the accept stage resolved (the TCP peer, or the client a trusted proxy names): checked by the shield stage on every request, before routing answers 404 and before any identity work; a route\'s own `ipRules` apply on top. IPv4-mapped IPv6 addresses match IPv4 ranges and the reverse. The ops listener and the plain-HTTP redirect listener are not subject to them.'),
  limits: limitsSchema.default(limitsSchema.parse({})),
  logging: z.object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    accessLog: z.boolean().default(true).describe('One structured line per request, including early exits.'),
  }).strict().default({ level: 'info', accessLog: true }),
  tracing: tracingSchema.default(tracingSchema.parse({})),
  upstreams: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/), upstreamSchema).default({}),
  routes: z.array(routeSchema).default([]),
  pki: pkiSchema.default(pkiSchema.parse({})),
  identity: identitySchema.default(identitySchema.parse({})),
  authn: authnSchema.default(authnSchema.parse({})),
  policy: policySchema.default(policySchema.parse({})),
  bus: busSchema.default(busSchema.parse({})),
  ratelimit: ratelimitSchema.default(ratelimitSchema.parse({})),
  audit: auditSchema.default(auditSchema.parse({})),
  detect: detectSchema.default(detectSchema.parse({})),
}).strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.infer<typeof configSchema> & { mode: 'development' | 'production' };
