/**
 * Entry point shared by the service processes: read `--config`, start, tell the supervisor
 * the bound port on stdout (`{"ready":true,"port":…}`, one line), stop cleanly on
 * SIGTERM/SIGINT, and exit non-zero when start fails.
 */
import pino from 'pino';

export interface Running { port: number; close(): Promise<void> }

export function runMain(name: string, start: () => Promise<Running>): void {
  const logger = pino({ base: { service: name } });
  start().then((running) => {
    process.stdout.write(`${JSON.stringify({ ready: true, service: name, port: running.port })}\n`);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      running.close().then(() => process.exit(0), (err: unknown) => { logger.error({ err }, 'stop failed'); process.exit(1); });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  }, (err: unknown) => {
    logger.fatal({ err }, 'start failed');
    process.exit(1);
  });
}
