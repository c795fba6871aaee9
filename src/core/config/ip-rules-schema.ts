/**
 * IP rules: which client addresses may use Gatehouse's public listener at all (top-level
 * `ipRules`) and a route (`routes[].ipRules`). Enforced by the shield stage
 * (src/gateway/http/ip-rules.ts, docs/request-path.md#ip-rules).
 */
import { z } from 'zod';
import { hostBitsProblem, parseCidr } from '../net/cidr.ts';

/** An address or CIDR written as its network (a range with host bits set is refused). */
export const cidr = z.string().superRefine((value, ctx) => {
  const range = parseCidr(value);
  if (typeof range === 'string') {
    ctx.addIssue({ code: 'custom', message: range });
    return;
  }
  // A typo such as 10.20.1.0/16 for a /24 would widen an allow list to the whole /16 without a word.
  const problem = hostBitsProblem(value, range);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const ipRulesSchema = z.object({
  allow: z.array(cidr).max(10_000).default([]).describe('Client addresses or CIDRs served (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`; a CIDR is written as its network: `10.20.1.0/16` is refused); any other client is refused with 403 ERR_SHIELD_IP_DENIED. Empty: every client not denied.'),
  deny: z.array(cidr).max(10_000).default([]).describe('Client addresses or CIDRs refused with 403 ERR_SHIELD_IP_DENIED, also when `allow` lists them (deny wins).'),
}).strict();

export type IpRulesConfig = z.infer<typeof ipRulesSchema>;
