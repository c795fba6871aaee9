/**
 * Anomaly detection as a gateway extension. Wiring is one line in the composition root:
 *
 *   extensions.push(detectExtension(platform, { accountLocker: identity }));
 *
 * Every instance evaluates every event the rules read (live subscription to RULE_EVENTS:
 * with NATS each instance sees the events of all), so per-key counts are complete; alert ids are deterministic and
 * stored first-writer-wins, so one alert is acted on once across instances.
 *
 * Enforcement needs two stages from `blockStages` (see docs/detection.md): `blockAddress`
 * right after the shield stage and `blockIdentity` right after authenticate.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import type { DetectConfig } from '../core/config/detect-schema.ts';
import type { Config } from '../core/config/schema.ts';
import type { Stage } from '../gateway/context.ts';
import type { GatewayExtension } from '../gateway/gateway.ts';
import type { Store } from '../store/types.ts';
import { createBlockCheck, type BlockCheck } from './block-check.ts';
import { createBlockStages } from './block-stage.ts';
import { Detector } from './detector.ts';
import { createEventTimeParser } from './event-time.ts';
import { RULE_EVENTS } from './rules.ts';
import { startDetectRetention, type DetectRetention } from './retention.ts';
import type { AccountLocker } from './types.ts';

export interface DetectPlatform {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly bus: EventBus;
}

export interface DetectExtension extends GatewayExtension {
  readonly blockCheck: BlockCheck;
  /** Stages enforcing blocks: put `blockAddress` after shield and `blockIdentity` after authenticate. */
  readonly blockStages: { blockAddress: Stage; blockIdentity: Stage };
  readonly detector: Detector | undefined;
}

export function detectExtension(platform: DetectPlatform, options: { accountLocker?: AccountLocker } = {}): DetectExtension {
  const { config, store, bus } = platform;
  const logger = platform.logger.child({ component: 'detect' });
  const blockCheck = createBlockCheck({ store, bus, refreshMs: config.detect.blockRefreshMs, logger });
  const blockStages = createBlockStages(blockCheck);
  let detector: Detector | undefined;
  let unsubscribe: (() => void) | undefined;
  let retention: DetectRetention | undefined;
  let stopClosingTunnels: (() => void) | undefined;
  return {
    name: 'detect',
    blockCheck,
    blockStages,
    get detector() { return detector; },
    // Blocks are enforced twice: by client address before any identity work, by subject after authentication.
    stages: () => blockStages,
    async start(gateway) {
      await blockCheck.start();
      // A tunnel is checked at its handshake only: one whose client or subject is blocked later is closed.
      stopClosingTunnels = blockCheck.onBlocksChanged(() => {
        const closed = gateway.tunnels.closeWhere((t) => blockCheck.isBlocked(t.clientAddress, t.identity?.subject) !== undefined, 'blocked');
        if (closed > 0) logger.info({ closed }, 'detect: WebSocket tunnels of a blocked client or subject closed');
      });
      // Blocks are also added by admins, with or without the rules: retention runs either way.
      if (config.detect.retentionDays > 0) {
        retention = startDetectRetention(store, { maxAgeMs: config.detect.retentionDays * 86_400_000, intervalMs: 3_600_000, logger });
      }
      if (config.detect.enabled) startDetector(config.detect);
    },
    /**
     * The rules follow a reload for the events after the swap (the gateway calls this right
     * after it): thresholds, windows, actions and durations of each rule, rules switched on
     * or off, `maxKeys`, and `enabled` itself (switching detection off unsubscribes and
     * forgets every count; on again starts from zero). `blockRefreshMs` and `retentionDays`
     * are the periods of timers started at start: restart-only (restart-only-changes.ts).
     */
    onReload(outcome) {
      if (!outcome.applied) return;
      const next = outcome.config.detect;
      if (!next.enabled) stopDetector();
      else if (detector) detector.configure(next);
      else startDetector(next);
    },
    async stop() {
      stopClosingTunnels?.();
      stopDetector();
      blockCheck.stop();
      await retention?.stop();
    },
  };

  function startDetector(detectConfig: DetectConfig): void {
    const d = new Detector({ config: detectConfig, store, bus, instance: config.instanceId ?? 'gatehouse', blockCheck, logger, ...(options.accountLocker ? { accountLocker: options.accountLocker } : {}) });
    detector = d;
    const timeOf = createEventTimeParser();
    unsubscribe = bus.subscribe([...RULE_EVENTS], (event) => d.observe({ id: event.id, name: event.name, time: timeOf(event.time), payload: event.payload }));
  }

  function stopDetector(): void {
    unsubscribe?.();
    unsubscribe = undefined;
    detector = undefined;
  }
}
