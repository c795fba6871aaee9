/** How components (identity, policy, audit, PKI…) plug into the gateway: the extension contract. */
import type { ConfigProblem } from '../core/config/load.ts';
import type { Config } from '../core/config/schema.ts';
import type { OpsAction } from '../observability/ops-server.ts';
import type { Stage } from './context.ts';
import type { Gateway } from './gateway.ts';
import type { InternalHandler } from './internal-handler.ts';
import type { AccessEventSink } from './pipeline/record.ts';
import type { WorkloadTls } from './upstream/pools.ts';

/** What a reload did, as told to extensions (for the `config.reloaded`/`config.rejected` events). */
export type ReloadOutcome =
  | { applied: true; version: number; source: string; routes: number; changedKeys: string[]; restartOnly: string[]; config: Config }
  | { applied: false; source: string; problems: ConfigProblem[] };

/** How a component plugs into the gateway without the gateway knowing its internals. */
export interface GatewayExtension {
  readonly name: string;
  start?(gateway: Gateway): Promise<void>;
  /** Internal endpoints served on the public listener. */
  internalHandlers?(): InternalHandler[];
  /** Stages by slot; the order of slots is fixed in pipeline/stages.ts. */
  stages?(config: Config): Partial<Record<StageSlot, Stage>>;
  /** Extra cross-field config validation, run before a config is accepted. */
  validate?(config: Config): ConfigProblem[];
  /** Receives every finished request (access event). */
  onRequest?: AccessEventSink;
  /**
   * Told about every reload attempt, applied or refused. An applied one is told synchronously
   * right after the swap, so settings applied here (detection rules, audit policy) are in
   * force for every event after it.
   */
  onReload?(outcome: ReloadOutcome): void;
  /** The gateway's own workload certificate for mutual TLS to upstreams (the PKI component). */
  workloadTls?(): WorkloadTls;
  /** CA certificates (PEM) whose client certificates the public listener asks for. */
  clientCaBundle?(): string;
  /**
   * Calls `listener` whenever `clientCaBundle()` may have changed (the CA was read again);
   * returns the function that stops calling it. The listener then offers the new names.
   */
  onClientCaBundleChange?(listener: () => void): () => void;
  /** Operator actions served on the ops listener as `POST <path>`. */
  opsActions?(): Record<string, OpsAction>;
  stop?(): Promise<void>;
}

export type StageSlot = 'blockAddress' | 'edgeRateLimit' | 'authenticate' | 'blockIdentity' | 'stepUp' | 'authorize' | 'approve' | 'rateLimit' | 'identity';
