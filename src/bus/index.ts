/** Public surface of the event bus. */
export { createEventBus } from './create-event-bus.ts';
export { MemoryEventBus } from './memory-bus.ts';
export { NatsEventBus, createNatsEventBus } from './nats-bus.ts';
export type { BusHealth, BusStats, EventBus, EventBusOptions, EventHandler, SubscribeOptions } from './types.ts';
