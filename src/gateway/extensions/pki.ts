/**
 * The certificate authority as a gateway component: the issuance API and CRL on the public
 * listener, the gateway's own workload certificate (renewed at 2/3 of its lifetime) used
 * for mutual TLS to upstreams, and a CRL watcher so revocations and rotations reach every
 * instance at once when announced on the bus, and within `pki.crl.refreshIntervalSeconds`
 * when not.
 *
 * The CA must be created once with `gatehouse ca init`; in development mode a missing CA
 * is created at start, with a warning (refused in production).
 */
import { GatehouseError } from '../../core/errors.ts';
import { openPkiCommandContext, openAuthority } from '../../pki/commands/context.ts';
import { caInitCommand } from '../../pki/commands/ca-init.ts';
import type { CertificateAuthority } from '../../pki/authority.ts';
import { CrlWatcher } from '../../pki/mtls/crl-watcher.ts';
import { followCaChanges } from '../../pki/ca-change-subscription.ts';
import { CertificateRotator } from '../../pki/mtls/rotator.ts';
import type { TlsMaterial } from '../../pki/mtls/tls-material.ts';
import type { TrustStore } from '../../pki/trust-store.ts';
import type { PkiEvent } from '../../pki/events.ts';
import { createPkiHttpHandler } from '../../pki/http/pki-http-handler.ts';
import { judgeIntermediateExpiry, type IntermediateExpiry } from '../../pki/intermediate-expiry.ts';
import { judgeRootExpiry, type RootExpiry } from '../../pki/root-expiry.ts';
import type { EventName, GatehouseEvents } from '../../core/events.ts';
import type { GatewayExtension } from '../gateway.ts';
import type { WorkloadTls } from '../upstream/pools.ts';
import type { Platform } from './platform.ts';

export interface PkiComponent {
  ca: CertificateAuthority;
  workload: WorkloadTls;
  /** Forces a new workload certificate now (ops endpoint and CLI). */
  rotate(): Promise<void>;
  extension: GatewayExtension;
}

/** The SPIFFE id every Gatehouse instance presents to upstreams (one identity for the fleet). */
export function gatewaySpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/gateway/gatehouse`;
}

export async function createPkiComponent(platform: Platform): Promise<PkiComponent | undefined> {
  const { config, store, bus, logger } = platform;
  if (!config.pki.enabled) return undefined;
  const log = logger.child({ component: 'pki' });
  const onEvent = (event: PkiEvent) => {
    const { type, ...payload } = event;
    bus.publish(type as EventName, payload as unknown as GatehouseEvents[EventName]);
  };
  const ctx = await openPkiCommandContext({ store, config, logger: log, onEvent });
  let ca: CertificateAuthority;
  try {
    ca = await openAuthority(ctx);
  } catch (err) {
    if (!(err instanceof GatehouseError && err.code === 'ERR_PKI_NOT_INITIALIZED') || config.mode === 'production') throw err;
    log.warn('DEVELOPMENT SETTING: no certificate authority yet; creating one now (run `gatehouse ca init` yourself in production)');
    try {
      await caInitCommand(ctx);
    } catch (initErr) {
      // Another instance starting at the same moment created it first: use theirs.
      if (!(initErr instanceof GatehouseError && initErr.code === 'ERR_PKI_ALREADY_INITIALIZED')) throw initErr;
    }
    ca = await openAuthority(ctx);
  }

  let trust: TrustStore = await ca.currentTrust();
  // Upstream pools re-verify their open connections under the new trust (revoked → closed).
  const trustListeners = new Set<() => void>();
  const watcher = new CrlWatcher({
    ca, logger: log,
    onChange: (t) => {
      trust = t;
      for (const listener of trustListeners) {
        try { listener(); } catch (err) { log.error({ err }, 'trust change listener failed'); }
      }
    },
  });
  trust = await watcher.start();
  // Rotations and revocations made by the CLI (another process) arrive as bus events.
  const unfollowCaChanges = followCaChanges(bus, watcher, log);

  const spiffeId = gatewaySpiffeId(config.pki.trustDomain);
  let material: TlsMaterial | undefined;
  const rotator = new CertificateRotator({
    spiffeId,
    // In-process issuance: the gateway holds the CA, so it needs no bootstrap token.
    obtain: async (csr) => {
      const issued = await ca.issue({ csr, spiffeId });
      return issued;
    },
    onRotate: (m) => { material = m; },
    onEvent,
    logger: log,
  });
  await rotator.start();

  const workload: WorkloadTls = {
    material: () => material!,
    trust: () => trust,
    onTrustChange(listener) {
      trustListeners.add(listener);
      return () => { trustListeners.delete(listener); };
    },
  };
  // The ends of the issuing intermediate and of the root are announced well before: a warning
  // at start and then once a day while one is near (or past), and a degraded `pki` in /readyz.
  const intermediateExpiry = (): IntermediateExpiry => judgeIntermediateExpiry(ca.issuingIntermediate, new Date(), config.pki.intermediateWarningDays);
  const rootExpiry = (): RootExpiry => judgeRootExpiry(ca.root, new Date(), config.pki.rootWarningDays);
  const warners = [
    expiryWarner(() => intermediateExpiry(), 'intermediateSerial'),
    expiryWarner(() => rootExpiry(), 'rootSerial'),
  ];
  function expiryWarner(judge: () => IntermediateExpiry | RootExpiry, serialKey: string): () => void {
    let lastWarned: { serial: string; state: string; at: number } | undefined;
    return () => {
      const e = judge();
      if (e.state === 'ok') { lastWarned = undefined; return; }
      const now = Date.now();
      if (lastWarned && lastWarned.serial === e.serial && lastWarned.state === e.state && now - lastWarned.at < 86_400_000) return;
      lastWarned = { serial: e.serial, state: e.state, at: now };
      (e.state === 'expired' ? log.error.bind(log) : log.warn.bind(log))({ [serialKey]: e.serial, notAfter: e.notAfter, daysLeft: e.daysLeft }, e.message);
    };
  }
  const warnIfExpiring = () => { for (const warn of warners) warn(); };
  warnIfExpiring();
  const expiryTimer = setInterval(warnIfExpiring, 3_600_000);
  expiryTimer.unref();

  const handler = createPkiHttpHandler({ ca, logger: log });
  const extension: GatewayExtension = {
    name: 'pki',
    workloadTls: () => workload,
    clientCaBundle: () => trust.bundlePem,
    // Every trust change (a CRL too): the gateway compares the bundle and swaps only when the roots changed.
    onClientCaBundleChange: (listener) => workload.onTrustChange(listener),
    opsActions: () => ({
      '/certificates/rotate': async () => {
        const next = await rotator.rotateNow();
        await watcher.refresh();
        return { spiffeId: next.spiffeId, serial: next.serial, notAfter: next.notAfter.toISOString() };
      },
    }),
    async start(gateway) {
      gateway.health.register('pki', async () => {
        const current = material;
        const left = current ? Math.round((current.notAfter.getTime() - Date.now()) / 1000) : 0;
        const issuer = intermediateExpiry();
        const root = rootExpiry();
        // Degraded, not unready: the instance serves as before, and taking every instance out
        // of the load balancer would turn a warning into the outage it warns of. (No workload
        // certificate outlives the intermediate or the root, so once one has expired `ok` is false anyway.)
        return {
          ok: left > 0, latencyMs: 0,
          detail: `workload certificate valid for ${left} s; ${issuer.message}; ${root.message}`,
          ...(issuer.state !== 'ok' || root.state !== 'ok' ? { degraded: true } : {}),
        };
      });
    },
    internalHandlers: () => [{
      name: 'pki',
      prefixes: [`${config.pki.apiPath}/`, config.pki.crl.path],
      async handle(req, res, ctx) {
        if (!await handler(req, res, { clientAddress: ctx.clientAddress })) throw new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND', { detail: `no PKI endpoint ${ctx.path}` });
      },
    }],
    async stop() {
      clearInterval(expiryTimer);
      unfollowCaChanges();
      rotator.stop();
      watcher.stop();
    },
  };
  return { ca, workload, rotate: async () => { await rotator.rotateNow(); }, extension };
}
