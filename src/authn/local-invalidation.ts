/**
 * In-process invalidation channel: the embedded default, and the adapter target until the
 * event bus is wired. With several instances, `publish` must go through the bus instead.
 */
import type { AuthnInvalidation, OnInvalidate, PublishInvalidation } from './types.ts';

export interface InvalidationChannel {
  onInvalidate: OnInvalidate;
  publish: PublishInvalidation;
}

/** Creates a channel whose listeners are called synchronously, in subscription order. */
export function createLocalInvalidationChannel(): InvalidationChannel {
  const listeners = new Set<(event: AuthnInvalidation) => void>();
  return {
    onInvalidate(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    async publish(event) {
      for (const listener of listeners) listener(event);
    },
  };
}
