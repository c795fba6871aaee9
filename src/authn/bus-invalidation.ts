/**
 * Carries authentication invalidations between gateway instances over the event bus.
 * `publish` applies an invalidation here at once (the instance that revokes must not serve
 * the revoked credential for even one more request) and publishes `authn.invalidated` for
 * the others. Every instance listens — live, not durable: a durable subscription would hand
 * each event to only one of them — to `authn.invalidated` and to the identity provider's
 * `principal.changed` and `identity.api_token.revoked`.
 *
 * Events cross process boundaries, so their payloads are parsed, never cast.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { Envelope } from '../core/events.ts';
import type { AuthnInvalidatedEvent } from './events.ts';
import type { InvalidationChannel } from './local-invalidation.ts';
import type { AuthnInvalidation } from './types.ts';

export interface BusInvalidationChannel extends InvalidationChannel {
  /** Ends the bus subscription. */
  close(): void;
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** The invalidation an event stands for, or undefined when it is malformed. */
export function invalidationFromEvent(envelope: Pick<Envelope, 'name' | 'payload'>): AuthnInvalidation | undefined {
  const p = envelope.payload as unknown as Record<string, unknown>;
  if (typeof p !== 'object' || p === null) return undefined;
  switch (envelope.name) {
    case 'principal.changed': return str(p.subject) ? { type: 'principal.changed', subject: p.subject } : undefined;
    case 'identity.api_token.revoked': return str(p.tokenId) ? { type: 'api-token.revoked', tokenId: p.tokenId } : undefined;
    case 'authn.invalidated':
      switch (p.type) {
        case 'token.revoked': return str(p.issuer) && str(p.jti) && typeof p.expiresAt === 'number' && Number.isFinite(p.expiresAt) ? { type: 'token.revoked', issuer: p.issuer, jti: p.jti, expiresAt: p.expiresAt } : undefined;
        case 'session.revoked': return str(p.sessionId) ? { type: 'session.revoked', sessionId: p.sessionId } : undefined;
        case 'sessions.revoked': return str(p.subject) ? { type: 'sessions.revoked', subject: p.subject } : undefined;
        case 'principal.changed': return str(p.subject) ? { type: 'principal.changed', subject: p.subject } : undefined;
        case 'api-token.revoked': return str(p.tokenId) ? { type: 'api-token.revoked', tokenId: p.tokenId } : undefined;
        default: return undefined;
      }
    default: return undefined;
  }
}

function toPayload(event: AuthnInvalidation): AuthnInvalidatedEvent {
  switch (event.type) {
    case 'token.revoked': return { type: event.type, issuer: event.issuer, jti: event.jti, expiresAt: event.expiresAt };
    case 'session.revoked': return { type: event.type, sessionId: event.sessionId };
    case 'sessions.revoked':
    case 'principal.changed': return { type: event.type, subject: event.subject };
    case 'api-token.revoked': return { type: event.type, tokenId: event.tokenId };
  }
}

/**
 * @example
 *   const channel = createBusInvalidationChannel(platform.bus, logger);
 *   createAuthn({ onInvalidate: channel.onInvalidate, publish: channel.publish, … });
 */
export function createBusInvalidationChannel(bus: Pick<EventBus, 'publish' | 'subscribe'>, logger?: Logger): BusInvalidationChannel {
  const listeners = new Set<(event: AuthnInvalidation) => void>();
  const deliver = (event: AuthnInvalidation) => {
    for (const listener of listeners) {
      try { listener(event); } catch (err) { logger?.error({ err, type: event.type }, 'authn: invalidation listener failed'); }
    }
  };
  const unsubscribe = bus.subscribe(['authn.invalidated', 'principal.changed', 'identity.api_token.revoked'], (envelope) => {
    const event = invalidationFromEvent(envelope);
    if (event === undefined) { logger?.warn({ event: envelope.name, id: envelope.id }, 'authn: malformed invalidation event ignored'); return; }
    deliver(event);
  });
  return {
    onInvalidate(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    async publish(event) {
      deliver(event);
      bus.publish('authn.invalidated', toPayload(event));
    },
    close: unsubscribe,
  };
}
