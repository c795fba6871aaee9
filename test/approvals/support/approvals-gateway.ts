/**
 * The set-up most approvals suites share: a composed gateway (real IdP, store, approvals) in
 * front of a real upstream, with edge and identity rate limits off so that a suite's many calls
 * are never refused for pace, and users who each hold an API token.
 */
import type { ConfigInput } from '../../../src/core/config/schema.ts';
import { identityProviderOf } from '../../../src/gateway/extensions/identity.ts';
import type { IdentityProvider } from '../../../src/identity/identity-provider.ts';
import { userAdd } from '../../../src/identity/commands/user.ts';
import { tokenCreate } from '../../../src/identity/commands/token.ts';
import { openStoreFromConfig } from '../../../src/store/open-from-config.ts';
import type { Store } from '../../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../../support/gateway.ts';

export interface ApprovalsGateway {
  gw: TestGateway;
  upstream: TestUpstream;
  idp: IdentityProvider;
  /** A second connection to the gateway's store, for what the tests read or plant directly. */
  store: Store;
  /** API token by user name. */
  tokens: Record<string, string>;
  /** User id by user name. */
  ids: Record<string, string>;
  close(): Promise<void>;
}

/**
 * @param config merged over the rate-limits-off base; `upstreams.app` is the test upstream.
 * @param users name and roles of each user to create, with an API token each.
 * @param handler the upstream's own answer (startUpstream's), else it echoes what it received.
 */
export async function startApprovalsGateway(config: (upstreamUrl: string) => ConfigInput, users: readonly (readonly [string, readonly string[]])[], handler?: Parameters<typeof startUpstream>[0]): Promise<ApprovalsGateway> {
  const upstream = await startUpstream(handler);
  const input = config(upstream.url);
  const gw = await startGateway({
    ...input,
    ratelimit: { edge: { enabled: false }, identity: { enabled: false }, ...input.ratelimit },
    upstreams: { app: { url: upstream.url }, ...input.upstreams },
  }, { compose: true });
  const store = await openStoreFromConfig(gw.gateway.config);
  const idp = identityProviderOf(gw.gateway.extensions)!;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  for (const [name, roles] of users) {
    ids[name] = (await userAdd(idp, { username: name, roles: [...roles] })).id;
    tokens[name] = (await tokenCreate(idp, { owner: name, name: 'test' })).token;
  }
  return {
    gw, upstream, idp, store, tokens, ids,
    async close() {
      await store.close();
      await gw.close();
      await upstream.close();
    },
  };
}

/** The `error` object of a refusal's JSON body. */
export function errorOf(r: { body: string }): { code: string; approvalId?: string } {
  return (JSON.parse(r.body) as { error: { code: string; approvalId?: string } }).error;
}
