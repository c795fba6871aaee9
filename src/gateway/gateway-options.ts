/** What `Gateway.start` is given, and what it tells the composition root and callers. */
import type { AddressInfo } from 'node:net';
import type { DestinationStream, Logger } from 'pino';
import type { LoadedConfig } from '../core/config/load.ts';
import type { Config } from '../core/config/schema.ts';
import type { GatewayExtension } from './gateway-extension.ts';

export interface GatewayOptions {
  /** Config file to load (and watch). Without it, built-in defaults are used. */
  configFile?: string;
  /** An already-loaded config (tests). */
  config?: LoadedConfig;
  /**
   * The logger to use. Without it the gateway builds one whose redaction follows reloads of
   * `audit.redact`; a logger given here keeps whatever redaction its owner gave it.
   */
  logger?: Logger;
  /** Where the gateway's own logger writes (default: stdout). Ignored with `logger`. */
  logDestination?: DestinationStream;
  /** Extra environment for ${VAR} substitution (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Watch the config file and reload on change (default true when configFile is given). */
  watch?: boolean;
  /** Install a SIGHUP handler that reloads (default true for the CLI, false in tests). */
  handleSignals?: boolean;
  /** Components (identity, policy, audit…) that add stages, internal handlers and health checks. */
  extensions?: GatewayExtension[];
  /** Builds the extensions from the loaded configuration (the composition root; see compose.ts). */
  compose?: (config: Config, logger: Logger, context: ComposeContext) => Promise<GatewayExtension[]>;
}

/** What the composition root gets besides the config. */
export interface ComposeContext {
  configFile: string | undefined;
  /** The public listener's certificate chain (PEM): what Gatehouse's own clients of its public URL must trust. */
  publicCertificatePem: string;
}

export interface GatewayAddresses { https: AddressInfo; http: AddressInfo | undefined; ops: AddressInfo }
