/**
 * Which open WebSocket tunnels an authentication invalidation ends: a tunnel is authorized
 * at its handshake only, so a revoked token, an ended session, a revoked API token and a
 * changed principal (disabled, roles changed, signed out everywhere) would otherwise keep
 * their tunnels open. A changed principal ends all of its tunnels, whatever changed: the
 * client reconnects and is authorized again as it is now.
 */
import type { OpenTunnel } from '../gateway/upstream/tunnels.ts';
import type { AuthnInvalidation } from './types.ts';

/** The predicate over open tunnels for one invalidation, and the reason logged for what it closes. */
export function tunnelsEndedBy(event: AuthnInvalidation): { match: (tunnel: OpenTunnel) => boolean; reason: string } {
  switch (event.type) {
    case 'token.revoked':
      return { match: ({ identity: i }) => i !== undefined && i.issuer === event.issuer && i.credentialId === event.jti && (i.method === 'jwt' || i.method === 'dpop'), reason: 'token revoked' };
    case 'session.revoked':
      return { match: ({ identity: i }) => i?.method === 'session' && i.credentialId === event.sessionId, reason: 'session ended' };
    case 'api-token.revoked':
      return { match: ({ identity: i }) => i?.method === 'api_token' && i.credentialId === event.tokenId, reason: 'API token revoked' };
    case 'sessions.revoked':
      return { match: ({ identity: i }) => i?.subject === event.subject && i.method === 'session', reason: 'sessions of the principal ended' };
    case 'principal.changed':
      return { match: ({ identity: i }) => i?.subject === event.subject, reason: 'principal changed' };
  }
}
