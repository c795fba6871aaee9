/**
 * A client that fails to authenticate at the token, introspection or revocation endpoint
 * (`invalid_client`: unknown client, wrong secret, an assertion not signed by its key) becomes
 * `identity.client.auth_failed`. Before, these refusals were an anonymous 401 in the access log
 * only: a client-secret guesser was neither audited as such nor counted by detection, whose
 * `credentialGuessing` rule now counts the distinct credentials one address presents
 * (authn/refused-credential.ts).
 */
import type Provider from 'oidc-provider';
import { credentialDigest } from '../../authn/refused-credential.ts';
import type { IdentityEmit } from '../events.ts';

const ENDPOINTS = { 'grant.error': 'token', 'introspection.error': 'introspection', 'revocation.error': 'revocation' } as const;

export function forwardClientAuthFailures(provider: Provider, emit: IdentityEmit): void {
  for (const [event, endpoint] of Object.entries(ENDPOINTS)) {
    provider.on(event, (ctx: any, err: any) => {
      if (err?.error !== 'invalid_client') return;
      const params = ctx.oidc?.params ?? {};
      const claimed = ctx.oidc?.client?.clientId ?? params.client_id;
      // What was presented: a secret in the body, an assertion, or Basic credentials (id and secret).
      const presented = [params.client_secret, params.client_assertion, ctx.headers?.authorization].find((v) => typeof v === 'string' && v !== '');
      emit('identity.client.auth_failed', {
        endpoint,
        ...(typeof claimed === 'string' && claimed !== '' ? { clientId: claimed.slice(0, 200) } : {}),
        ...(typeof ctx.ip === 'string' && ctx.ip !== '' ? { clientAddress: ctx.ip } : {}),
        ...(presented === undefined ? {} : { refusedCredential: credentialDigest(presented) }),
        detail: String(err.error_detail ?? err.error_description ?? '').slice(0, 200),
      });
    });
  }
}
