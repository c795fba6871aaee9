/**
 * How a route appears to the policy engine: the policy set that decides it and the
 * `Gatehouse::Route` resource (id, upstream, prefix as `resource.path`, host). The authorize
 * stage, `policy explain` and `policy test` all take it from here, so a policy that reads
 * the route's attributes decides the same in a test as in production.
 */
import type { AuthorizationRequest } from '../../policy/types.ts';
import type { CompiledRoute } from './types.ts';

export function policyTargetOf(route: CompiledRoute): Pick<AuthorizationRequest, 'policySet' | 'resource'> {
  return {
    policySet: route.config.access === 'policy' ? route.config.policy : undefined,
    resource: { routeId: route.id, upstream: route.upstreamName, path: route.prefix === '' ? '/' : route.prefix, host: route.config.host },
  };
}
