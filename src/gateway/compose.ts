/**
 * The composition root: which components a running Gatehouse is made of, built from the
 * loaded configuration. Each component is a GatewayExtension; the gateway itself knows
 * none of them.
 */
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import type { GatewayExtension } from './gateway.ts';
import { createPlatform, platformExtension } from './extensions/platform.ts';

export async function composeExtensions(config: Config, logger: Logger): Promise<GatewayExtension[]> {
  const platform = await createPlatform(config, logger);
  return [platformExtension(platform)];
}
