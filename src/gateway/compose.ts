/**
 * The composition root: which components a running Gatehouse is made of, built from the
 * loaded configuration. Each component is a GatewayExtension; the gateway itself knows
 * none of them. Order matters only for shutdown (reverse) and for which component's
 * stage fills a slot when two offer one (the later wins).
 */
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import type { GatewayExtension } from './gateway.ts';
import { createPlatform, platformExtension } from './extensions/platform.ts';
import { createPolicyComponent } from './extensions/policy.ts';
import { createIdentityComponent } from './extensions/identity.ts';
import { createPkiComponent } from './extensions/pki.ts';

export async function composeExtensions(config: Config, logger: Logger, context: { configFile: string | undefined }): Promise<GatewayExtension[]> {
  const platform = await createPlatform(config, logger);
  const extensions: GatewayExtension[] = [platformExtension(platform)];
  try {
    const pki = await createPkiComponent(platform);
    if (pki) extensions.push(pki.extension);
    const identity = await createIdentityComponent(platform);
    extensions.push(identity.extension);
    const policy = await createPolicyComponent(platform, context.configFile);
    extensions.push(policy.extension);
    return extensions;
  } catch (err) {
    for (const ext of extensions.reverse()) await ext.stop?.().catch(() => undefined);
    throw err;
  }
}
