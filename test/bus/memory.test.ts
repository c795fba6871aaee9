import { busContract } from './contract.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';

busContract('memory', {
  create: async (instanceId, extra) => new MemoryEventBus({ instanceId, ...extra }),
  peer: async (of) => of,
  durableAcrossRestart: false,
}, false);
