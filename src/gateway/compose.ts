/**
 * The composition root: which components a running Gatehouse is made of, built from the
 * loaded configuration. Each component is a GatewayExtension; the gateway itself knows
 * none of them. Order matters only for shutdown (reverse) and for which component's
 * stage fills a slot when two offer one (the later wins).
 */
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import { fetchTrusting } from '../core/http/trusting-fetch.ts';
import type { ComposeContext, GatewayExtension } from './gateway.ts';
import { createAuthnComponent } from '../authn/authn-component.ts';
import { verifyPeer } from '../pki/mtls/verify-peer.ts';
import { createPlatform, platformExtension } from './extensions/platform.ts';
import { createPolicyComponent } from './extensions/policy.ts';
import { auditExtension } from '../audit/extension.ts';
import { detectExtension } from '../detect/extension.ts';
import { createStoreAccountLocker } from '../detect/store-account-locker.ts';
import { createIdentityComponent } from './extensions/identity.ts';
import { createPkiComponent } from './extensions/pki.ts';
import { approvalsExtension } from '../approvals/approvals-component.ts';

export async function composeExtensions(config: Config, logger: Logger, context: ComposeContext): Promise<GatewayExtension[]> {
  const platform = await createPlatform(config, logger);
  const extensions: GatewayExtension[] = [platformExtension(platform)];
  try {
    // Audit first among the components: it must be listening before anything emits events.
    extensions.push(auditExtension(platform));
    const detect = detectExtension(platform, { accountLocker: createStoreAccountLocker(platform.store) });
    extensions.push(detect);
    const pki = await createPkiComponent(platform);
    if (pki) extensions.push(pki.extension);
    const identity = await createIdentityComponent(platform);
    extensions.push(identity.extension);
    const authn = await createAuthnComponent(platform, {
      identity: identity.idp,
      // Client certificates from Gatehouse's CA name service principals by their SPIFFE id.
      verifyClientCertificate: pki ? (cert) => verifyPeer(cert, pki.workload.trust()) : undefined,
      // A new CRL makes open connections verify their certificate again (revoked → 401 on them too).
      clientCertificateTrust: pki ? () => pki.workload.trust() : undefined,
      onClientCertificateTrustChange: pki ? (listener) => pki.workload.onTrustChange(listener) : undefined,
      // The browser-login relying party redeems codes at this gateway's own public URL.
      loginFetch: fetchTrusting(context.publicCertificatePem),
    });
    extensions.push(authn.extension);
    // An approver is authenticated as on the approval's route, and a subject blocked by detection decides nothing.
    extensions.push(approvalsExtension(platform, { authenticate: authn.authn.stage, blockIdentity: detect.blockStages.blockIdentity }));
    const policy = await createPolicyComponent(platform, context.configFile);
    extensions.push(policy.extension);
    return extensions;
  } catch (err) {
    for (const ext of extensions.reverse()) await ext.stop?.().catch(() => undefined);
    throw err;
  }
}
