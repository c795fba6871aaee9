/**
 * Detection as it runs in Gatehouse, without a gateway: the detect extension on a real SQLite
 * store and the in-process bus, with every `detect.alert` collected. For tests that publish
 * sign-in events and look at the alerts, the blocks stored and the block check.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createEventBus } from '../../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../../src/bus/types.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Envelope } from '../../../src/core/events.ts';
import { detectExtension, type DetectExtension } from '../../../src/detect/extension.ts';
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { openStore } from '../../../src/store/open-store.ts';
import type { Store } from '../../../src/store/types.ts';

export interface TestDetector {
  store: Store;
  bus: EventBus;
  ext: DetectExtension;
  /** Every `detect.alert` published since the start. */
  alerts: Envelope[];
  /** Waits (up to 5 s) until at least one alert has arrived, then for the bus to be idle. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startDetector(detect: Record<string, unknown>, instanceId: string): Promise<TestDetector> {
  const dir = await mkdtemp(join(tmpdir(), `gatehouse-${instanceId}-`));
  const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
  await store.migrate();
  const bus = await createEventBus('memory:', { instanceId });
  const config = parseConfig({ dataDir: dir, instanceId, detect }, { env: {}, source: 'test' }).config;
  const ext = detectExtension({ config, logger: pino({ level: 'silent' }), store, bus }, {});
  await ext.start!(undefined as unknown as Gateway);
  const alerts: Envelope[] = [];
  bus.subscribe(['detect.alert'], (e) => { alerts.push(e); });
  await bus.flush();
  return {
    store, bus, ext, alerts,
    async settle() {
      await bus.flush();
      for (const deadline = Date.now() + 5000; alerts.length === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 25));
      await bus.flush();
    },
    async close() {
      await ext.stop!();
      await bus.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
