import { busContract } from './contract.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';

busContract('memory', {
  create: async (instanceId) => new MemoryEventBus({ instanceId }),
  peer: async (of) => of,
  durableAcrossRestart: false,
}, false);
