/**
 * Schema of `routes[].approval`: two-person approval of sensitive operations
 * (docs/approvals.md). A request with one of `methods` on the route is held until a second
 * person holding one of `approverRoles` approves it; the approval is then good for exactly
 * one request with the same requester, method, path, query and body.
 */
import { z } from 'zod';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export const approvalSchema = z.object({
  methods: z.array(z.enum(METHODS)).min(1).default(['POST', 'PUT', 'PATCH', 'DELETE']).describe('Methods that need an approval (others pass as usual).'),
  approverRoles: z.array(z.string().min(1)).min(1).describe('Roles that may approve or deny (held by a person: a service account with one does not decide); the requester can never approve their own request.'),
  requestTtlSeconds: z.number().int().min(60).max(7 * 86_400).default(3600).describe('How long a request waits for a decision before it expires.'),
  useWithinSeconds: z.number().int().min(10).max(86_400).default(900).describe('How long an approved request may be sent (once) after the approval.'),
  maxBodyBytes: z.number().int().min(0).max(64 * 1024 * 1024).default(1024 * 1024).describe('Largest body of a request under approval (also bounded by the route\'s maxBodyBytes): the held body is stored with the approval for the approvers to read while it can be used, and erased once it is used, denied or expires. Larger is refused with 413, held or used.'),
  maxOpenPerRequester: z.number().int().min(1).max(10_000).default(20).describe('Most approvals one requester may have open (waiting for a decision, or approved and not yet used) at once; another request is refused with 429 ERR_APPROVAL_LIMIT and nothing is stored. Held requests come before the per-identity rate limit, so this bounds what one principal can store.'),
}).strict();

export type ApprovalConfig = z.infer<typeof approvalSchema>;

/** Cross-field problems of one route's approval (paths relative to the config root). */
export function approvalProblems(route: { access: string; approval?: ApprovalConfig | undefined; websocket: boolean }, index: number): { path: (string | number)[]; message: string }[] {
  const a = route.approval;
  if (a === undefined) return [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  // Nobody is authenticated on a public route: there is no requester to bind an approval to.
  if (route.access === 'public') problems.push({ path: ['routes', index, 'approval'], message: 'an approval needs an authenticated requester; not possible with access: public' });
  // A WebSocket handshake is a GET whose tunnel carries anything: one approval cannot bind it.
  if (route.websocket && a.methods.includes('GET')) problems.push({ path: ['routes', index, 'approval', 'methods'], message: 'GET on a websocket route opens a tunnel an approval cannot bind; remove GET or websocket' });
  return problems;
}
