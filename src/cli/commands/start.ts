/** `gatehouse start [--config FILE]`: runs the gateway until SIGINT/SIGTERM, reloads on SIGHUP. */
import type { Command } from 'commander';
import type { Gateway } from '../../gateway/gateway.ts';
import { loadCliConfig, resolveConfigFile } from '../context.ts';
import { prepareDataDirectory } from '../../core/config/data-directory.ts';
import { ConfigError } from '../../core/config/load.ts';
import { checkCertificateFiles } from '../../gateway/tls/check-certificate.ts';
import { reportFailure } from '../output.ts';

export function registerStart(program: Command): void {
  program.command('start')
    .description('start Gatehouse (embedded defaults when no config file is given)')
    .option('-c, --config <file>', 'configuration file (YAML or JSON; default ./gatehouse.yaml if present); watched and reloaded on change and on SIGHUP')
    .action(async (options: { config?: string }) => {
      // Signal handlers go in first: a SIGTERM that arrives while the store, CA and listeners
      // are still starting must still end in a clean shutdown, not a killed process.
      let gateway: Gateway | undefined;
      let stopping: string | undefined;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = signal;
        if (!gateway) return; // start() finishes first, then sees `stopping`
        stopGateway(gateway, signal);
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      // Loaded here, not at the top: every other command would pay for importing the whole gateway.
      const [{ Gateway: GatewayClass }, { composeExtensions }] = await Promise.all([import('../../gateway/gateway.ts'), import('../../gateway/compose.ts')]);
      const configFile = resolveConfigFile(options.config);
      try {
        await checkBeforeStart(options.config);
        gateway = await GatewayClass.start({ ...(configFile ? { configFile } : {}), handleSignals: true, compose: composeExtensions });
      } catch (err) {
        // Whatever stopped the start (configuration, store, bus, a port in use) is reported as
        // every command reports failure: one line on stderr, exit 1, no uncaught stack trace.
        reportFailure(err);
        process.exit(1);
      }
      if (stopping) {
        const signal = stopping;
        stopping = undefined;
        shutdown(signal);
        return;
      }
      const a = gateway.addresses();
      console.log(`Gatehouse is listening on https://localhost:${a.https.port} (ops: http://${a.ops.address}:${a.ops.port}/readyz)`);
    });
}

/**
 * Stops the gateway on a signal and ends the process: 0 when it stopped cleanly, else 1 with
 * the failure as one structured, redacted log line (a raw `console.error` bypassed the log's
 * format and redaction, and log collectors saw an unparsable multi-line stack).
 */
export function stopGateway(gateway: Pick<Gateway, 'stop' | 'logger'>, signal: string, exit: (code: number) => void = (code) => process.exit(code)): Promise<void> {
  gateway.logger.info({ signal }, 'shutting down');
  return gateway.stop().then(() => exit(0), (err: unknown) => {
    gateway.logger.error({ err, signal }, 'shutdown failed');
    gateway.logger.flush?.();
    exit(1);
  });
}

/**
 * What can be known to fail before anything is set up: the listener certificate and the data
 * directory are checked before the gateway writes keys, a certificate or a store. The file is
 * read again by the gateway, which watches it from then on.
 */
async function checkBeforeStart(option: string | undefined): Promise<void> {
  const { config, source, fileWarnings } = await loadCliConfig(option);
  for (const w of fileWarnings ?? []) process.stderr.write(`warning: ${w}\n`);
  const { cert, key } = config.listeners.https.tls;
  if (cert && key) {
    const tls = await checkCertificateFiles({ cert, key });
    if (tls.problems.length) throw new ConfigError(tls.problems, source ?? '(defaults)');
    for (const w of tls.warnings) process.stderr.write(`warning: ${w}\n`);
  }
  const dataDir = await prepareDataDirectory(config.dataDir, source ?? '(defaults)');
  for (const w of dataDir.warnings) process.stderr.write(`warning: ${w}\n`);
}
