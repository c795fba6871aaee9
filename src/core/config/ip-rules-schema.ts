/**
 * IP rules: which client addresses may use Gatehouse's public listener at all (top-level
 * `ipRules`) and a route (`routes[].ipRules`). Enforced by the shield stage
 * (src/gateway/http/ip-rules.ts, docs/request-path.md#ip-rules).
 */
import { z } from 'zod';
import { parseCidr } from '../net/cidr.ts';

const cidr = z.string().superRefine((value, ctx) => {
  const range = parseCidr(value);
  if (typeof range === 'string') ctx.addIssue({ code: 'custom', message: range });
});

export const ipRulesSchema = z.object({
  allow: z.array(cidr).max(10_000).default([]).describe('Client addresses or CIDRs served (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`); any other client is refused with 403 ERR_SHIELD_IP_DENIED. Empty: every client not denied.'),
  deny: z.array(cidr).max(10_000).default([]).describe('Client addresses or CIDRs refused with 403 ERR_SHIELD_IP_DENIED, also when `allow` lists them (deny wins).'),
}).strict();

export type IpRulesConfig = z.infer<typeof ipRulesSchema>;
