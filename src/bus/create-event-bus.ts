/**
 * Chooses the event bus backend from a URL: `memory:` (in-process, the default) or
 * `nats://host:port` (JetStream; `tls://` for TLS, credentials in the URL's user info).
 *
 * @example
 *   const bus = await createEventBus(config.bus.url, { instanceId, logger });
 *   bus.publish('config.reloaded', { generation: 2, source: 'signal', routes: 4, changedKeys: ['routes'] });
 */
import { GatehouseError } from '../core/errors.ts';
import { MemoryEventBus } from './memory-bus.ts';
import { createNatsEventBus } from './nats-bus.ts';
import type { EventBus, EventBusOptions } from './types.ts';

export async function createEventBus(url: string, options: EventBusOptions): Promise<EventBus> {
  if (url === 'memory:') return new MemoryEventBus(options);
  if (url.startsWith('nats://') || url.startsWith('tls://')) return createNatsEventBus(url, options);
  throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `bus.url must be 'memory:' or a nats:// URL (got scheme ${url.split(':')[0] ?? ''})` });
}
