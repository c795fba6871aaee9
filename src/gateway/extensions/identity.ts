/**
 * The identity provider as a gateway component: OpenID Connect discovery and every
 * provider endpoint (`/.well-known/openid-configuration`, `/oidc/…`, login and MFA pages)
 * served on the public listener, after the accept, shield and edge rate-limit stages.
 */
import { GatehouseError } from '../../core/errors.ts';
import { createIdentityProvider, type IdentityEventSink, type IdentityProvider } from '../../identity/identity-provider.ts';
import type { GatewayExtension } from '../gateway.ts';
import type { Platform } from './platform.ts';

/** The identity extension also carries the provider, for in-process administration (tests, demo setup). */
export type IdentityExtension = GatewayExtension & { readonly idp: IdentityProvider };

export interface IdentityComponent {
  idp: IdentityProvider;
  extension: IdentityExtension;
}

/** The identity provider of a running gateway built by compose.ts, if it has one. */
export function identityProviderOf(extensions: readonly GatewayExtension[]): IdentityProvider | undefined {
  return (extensions.find((e) => e.name === 'identity') as IdentityExtension | undefined)?.idp;
}

export async function createIdentityComponent(platform: Platform): Promise<IdentityComponent> {
  const { config, store, logger, bus } = platform;
  const idp = await createIdentityProvider({
    config, store, logger, publicUrl: config.publicUrl!,
    // The IdP speaks in plain event names; the typed bus checks them against the event table.
    bus: bus as unknown as IdentityEventSink,
  });
  const extension: IdentityExtension = {
    name: 'identity',
    idp,
    internalHandlers: () => [{
      name: 'identity',
      prefixes: ['/.well-known/openid-configuration', '/oidc/'],
      handle(req, res, ctx) {
        if (!idp.handle(req, res, { clientAddress: ctx.clientAddress })) {
          throw new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND', { detail: `identity provider has no endpoint ${ctx.path}` });
        }
      },
    }],
    async stop() { await idp.close(); },
  };
  return { idp, extension };
}
