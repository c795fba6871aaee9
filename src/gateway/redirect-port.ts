import type { Config } from '../core/config/schema.ts';

/**
 * The HTTPS port the redirect listener sends clients to: the public one when `publicUrl` says
 * it (behind a load balancer that maps 443 to the listener's 8443, redirecting to 8443 would
 * send browsers to a port nobody serves), else the listener's own.
 */
export function redirectPort(config: Config, httpsPort: number): number {
  if (config.publicUrl === undefined) return httpsPort;
  const port = new URL(config.publicUrl).port;
  const publicPort = port === '' ? 443 : Number(port);
  // The default publicUrl carries the listener's configured port (0 when ephemeral, in tests).
  return publicPort === config.listeners.https.port ? httpsPort : publicPort;
}
