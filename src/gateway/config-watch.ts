/** Watching the configuration file and the listener's certificate files, each change a reload. */
import type { Logger } from 'pino';
import type { Config } from '../core/config/schema.ts';
import { fileFingerprint } from '../core/watch/fingerprint.ts';
import { watchPath, type PathWatcher } from '../core/watch/path-watcher.ts';
import { CertificateFilesWatch } from './tls/certificate-watch.ts';

/** The listener's configured certificate and key files (none: the development certificate). */
export function certificateFiles(config: Config): string[] {
  const { cert, key } = config.listeners.https.tls;
  return cert && key ? [cert, key] : [];
}

export class ConfigWatch {
  #watcher: PathWatcher | undefined;
  #certificateWatch: CertificateFilesWatch | undefined;

  /**
   * Reloads when the file's content changes, whichever way it was replaced (see
   * core/watch/path-watcher.ts): 150 ms after the last event, or at the latest at the next
   * 5 s poll when no event could reach the watch.
   * @param initial the file's fingerprint when start read it (the watch's starting point)
   * @param currentConfig the configuration in force, whose certificate files are watched
   */
  async start(file: string, initial: string | undefined, currentConfig: () => Config, reload: (reason: string) => Promise<unknown>, logger: Logger): Promise<void> {
    this.#watcher = watchPath(file, {
      fingerprint: () => fileFingerprint(file),
      ...(initial === undefined ? {} : { initial }),
      debounceMs: 150,
      pollMs: 5000,
      // The listeners keep the process running; the watch must not hold it after stop().
      persistent: false,
      onChange: () => reload('file changed'),
      onError: (err) => logger.error({ err, file }, 'configuration file watch failed; the poll still looks at it'),
    });
    await this.#watcher.ready;
    this.#certificateWatch = new CertificateFilesWatch((changed) => reload(`certificate file changed: ${changed}`), logger);
    await this.#certificateWatch.sync(certificateFiles(currentConfig()));
  }

  /** Watches the certificate files `config` names (a reload may name new ones); nothing when not watching. */
  async syncCertificates(config: Config): Promise<void> {
    await this.#certificateWatch?.sync(certificateFiles(config));
  }

  close(): void {
    this.#watcher?.close();
    this.#certificateWatch?.close();
  }
}
