/** Maps oidc-provider's own events onto Gatehouse identity events. */
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { IdentityEmit } from '../events.ts';
import { forwardClientAuthFailures } from './client-auth-failures.ts';

export function forwardProviderEvents(provider: Provider, emit: IdentityEmit, logger: Logger): void {
  // Opaque tokens are 'saved' and their jti IS the bearer secret: never put it in an event.
  // Structured (JWT) tokens are 'issued'; their jti is a plain identifier.
  provider.on('access_token.saved', (token: any) => emitIssued('access_token', token, false));
  provider.on('access_token.issued', (token: any) => emitIssued('access_token', token, true));
  provider.on('client_credentials.saved', (token: any) => emitIssued('client_credentials', token, false));
  provider.on('client_credentials.issued', (token: any) => emitIssued('client_credentials', token, true));
  provider.on('refresh_token.saved', (token: any) => emitIssued('refresh_token', token, false));
  provider.on('refresh_token.consumed', (token: any) => {
    emit('identity.token.refreshed', { clientId: token.clientId, grantId: token.grantId, ...(token.accountId ? { subject: token.accountId } : {}) });
  });
  provider.on('grant.error', (ctx: any, err: any) => {
    // oidc-provider revokes the whole grant when a rotated refresh token comes back.
    if (err?.error_detail === 'refresh token already used') {
      const rt = ctx.oidc?.entities?.RefreshToken;
      emit('identity.refresh.reused', {
        clientId: ctx.oidc?.client?.clientId ?? 'unknown', grantId: rt?.grantId ?? 'unknown', ...(rt?.accountId ? { subject: rt.accountId } : {}),
        // Who presented it (the gateway's client address: identity-provider.ts pins X-Forwarded-For, Koa's proxy mode reads it).
        ...(typeof ctx.ip === 'string' && ctx.ip !== '' ? { clientAddress: ctx.ip } : {}),
      });
    }
  });
  forwardClientAuthFailures(provider, emit);
  provider.on('grant.revoked', (ctx: any, grantId: string) => {
    emit('identity.grant.revoked', { grantId, reason: ctx.oidc?.route ?? 'unknown', ...(ctx.oidc?.client?.clientId ? { clientId: ctx.oidc.client.clientId } : {}) });
  });
  for (const kind of ['access_token', 'refresh_token', 'client_credentials'] as const) {
    provider.on(`${kind}.destroyed`, (token: any) => {
      emit('identity.token.revoked', { tokenKind: kind, ...(token?.clientId ? { clientId: token.clientId } : {}), ...(token?.grantId ? { grantId: token.grantId } : {}) });
    });
  }
  provider.on('server_error', (_ctx: any, err: unknown) => logger.error({ err }, 'identity: provider server error'));

  function emitIssued(tokenKind: 'access_token' | 'client_credentials' | 'refresh_token', token: any, structured: boolean): void {
    emit('identity.token.issued', {
      tokenKind, clientId: token.clientId,
      ...(token.accountId ? { subject: token.accountId } : {}),
      ...(token.grantId ? { grantId: token.grantId } : {}),
      ...(token.aud ? { audience: Array.isArray(token.aud) ? token.aud.join(' ') : String(token.aud) } : {}),
      ...(structured && token.jti ? { jti: token.jti } : {}),
    });
  }
}
