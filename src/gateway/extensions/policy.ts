/**
 * Authorization as a gateway component: the Cedar policy engine (policy files next to the
 * config, validate-then-swap on change), the authorize stage, and the signed identity
 * assertion for upstreams with its JWKS. Assertion signing keys live in the store so that
 * every instance signs with, and publishes, the same keys.
 */
import { dirname, resolve } from 'node:path';
import type { Config } from '../../core/config/schema.ts';
import { PolicyEngine, type ReloadReport } from '../../policy/engine.ts';
import { reloadPolicyDirectory, watchPolicyDirectory, type PolicyWatcher } from '../../policy/io/policy-files.ts';
import { createAuthorizeStage } from '../pipeline/authorize.ts';
import { createAssertionSigner, type AssertionSigner } from '../assertion/signer.ts';
import type { StoredSigningKey } from '../assertion/key-ring.ts';
import { createUpstreamIdentityStage } from '../assertion/upstream-identity.ts';
import { createAssertionJwksHandler } from '../assertion/jwks-handler.ts';
import { createKvRepo } from '../../store/repos/kv-repo.ts';
import type { Gateway, GatewayExtension } from '../gateway.ts';
import { tunnelsEndedByPolicyChange } from '../upstream/tunnels-after-reload.ts';
import type { Platform } from './platform.ts';

const KEYS_NS = 'assertion-keys';

export interface PolicyComponent {
  engine: PolicyEngine;
  signer: AssertionSigner;
  extension: GatewayExtension;
}

/** The policy directory: `policy.dir` relative to the configuration file (or the working directory). */
export function policyDirectory(config: Config, configFile: string | undefined): string {
  return resolve(configFile ? dirname(resolve(configFile)) : process.cwd(), config.policy.dir);
}

function applyDirectory(engine: PolicyEngine, config: Config): void {
  engine.setDirectory({ roles: config.policy.roles, routeGroups: config.policy.routeGroups, operations: config.policy.operations });
}

export async function createPolicyComponent(platform: Platform, configFile: string | undefined): Promise<PolicyComponent> {
  const { config, logger, bus, store } = platform;
  const log = logger.child({ component: 'policy' });
  const engine = new PolicyEngine({ cacheSize: config.policy.cacheSize, logger: log });
  applyDirectory(engine, config);
  let dir = policyDirectory(config, configFile);
  const report = await reloadPolicyDirectory(engine, dir);
  if (Object.keys(report.failed).length) log.error({ dir, failed: report.failed }, 'policy sets refused at start; routes using them deny every request');
  log.info({ dir, loaded: report.loaded }, 'policy sets loaded');

  const kv = createKvRepo(store.db);
  const stored = await kv.find(KEYS_NS, 'ring');
  const signer = await createAssertionSigner({
    issuer: config.policy.assertion.issuer ?? config.publicUrl!,
    ttlSeconds: config.policy.assertion.ttlSeconds,
    keyRotationHours: config.policy.assertion.keyRotationHours,
    cacheSize: config.policy.assertion.cacheSize,
    logger: log,
    ...(stored ? { keys: stored.payload as { current: StoredSigningKey; next: StoredSigningKey } } : {}),
    onKeysChanged: (keys) => kv.upsert(KEYS_NS, 'ring', keys),
  });

  let watcher: PolicyWatcher | undefined;
  let running: Gateway | undefined;
  /** Tunnels a reloaded or removed policy set authorized are judged again, by reconnecting (tunnels-after-reload.ts). */
  const closeTunnelsOf = (report: ReloadReport): void => {
    const changed = new Set([...report.loaded, ...report.removed]);
    if (running === undefined || changed.size === 0) return;
    const ended = tunnelsEndedByPolicyChange(running.config, changed);
    const closed = running.tunnels.closeWhere((t) => ended(t.routeId), 'policy changed');
    if (closed > 0) log.info({ tunnels: closed, policySets: [...changed] }, 'WebSocket tunnels closed: the policy that authorized them changed');
  };
  const watch = () => { watcher = watchPolicyDirectory(engine, dir, { logger: log, onReload: closeTunnelsOf }); };

  const extension: GatewayExtension = {
    name: 'policy',
    async start(gateway) {
      running = gateway;
      gateway.health.register('policy', async () => {
        const stats = engine.cacheStats();
        return { ok: true, latencyMs: 0, detail: `decision cache hit rate ${(stats.hitRate * 100).toFixed(1)}%` };
      }, { critical: false });
      if (configFile) watch();
    },
    stages: () => ({
      authorize: createAuthorizeStage({ engine, contextHeaders: config.policy.contextHeaders, publish: (e) => bus.publish('policy.decision', e), logger: log }),
      identity: createUpstreamIdentityStage({ signer, logger: log }),
    }),
    internalHandlers: () => [createAssertionJwksHandler(signer)],
    onReload(outcome) {
      if (!outcome.applied) return;
      applyDirectory(engine, outcome.config);
      const newDir = policyDirectory(outcome.config, configFile);
      if (newDir !== dir) { watcher?.close(); dir = newDir; watch(); }
      reloadPolicyDirectory(engine, dir).then(closeTunnelsOf, (err: unknown) => log.error({ err }, 'policy reload after a config change failed; previous policies keep serving'));
    },
    async stop() {
      watcher?.close();
      signer.close();
    },
  };
  return { engine, signer, extension };
}
