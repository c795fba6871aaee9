/**
 * Entry point shared by the service processes: read `--config`, start, tell the supervisor
 * the bound port on stdout (`{"ready":true,"port":…}`, one line), stop cleanly on
 * SIGTERM/SIGINT, and exit non-zero when start fails.
 */
import pino from 'pino';

export interface Running { port: number; close(): Promise<void> }

/**
 * Under the supervisor (SECURE_MAIL_SUPERVISED=1) stdin is a pipe from it: when the pipe
 * closes the supervisor is gone (even killed with SIGKILL), and `stop` runs — no orphans.
 */
export function watchParent(stop: () => void): void {
  if (process.env.SECURE_MAIL_SUPERVISED !== '1') return;
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    // Writing to the dead supervisor's pipe can break a graceful stop; never outlive it for long.
    setTimeout(() => process.exit(1), 12_000).unref();
    stop();
  };
  process.stdin.on('end', once);
  process.stdin.on('error', once);
  process.stdin.resume();
  // Belt and braces: a child re-parented (to init or a subreaper) has lost its supervisor.
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) once(); }, 1000).unref();
}

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
    watchParent(() => stop('supervisor gone'));
  }, (err: unknown) => {
    logger.fatal({ err }, 'start failed');
    process.exit(1);
  });
}
