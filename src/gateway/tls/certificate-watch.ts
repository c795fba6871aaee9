/**
 * Watches the listener's certificate and key files, so that a certificate renewed on disk
 * (certbot, cert-manager's Secret volume, an operator's `mv`) is served without a restart and
 * without touching the configuration file. Before, only a change of the configuration file
 * reloaded the files: a renewed certificate sat unused and the old one was served until it
 * expired.
 *
 * A change reloads the whole configuration (the one path that checks what it puts in place):
 * a certificate whose new key has not been written yet is refused as not belonging to the key,
 * the old pair keeps serving, and the key's own change a moment later reloads again.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { fileFingerprint } from '../../core/watch/fingerprint.ts';
import { watchPath, type PathWatcher } from '../../core/watch/path-watcher.ts';

export class CertificateFilesWatch {
  readonly #watchers = new Map<string, PathWatcher>();
  readonly #onChange: (file: string) => unknown;
  readonly #logger: Logger;

  constructor(onChange: (file: string) => unknown, logger: Logger) {
    this.#onChange = onChange;
    this.#logger = logger;
  }

  /** Watches exactly `files` (the configured cert and key; none for the development certificate). */
  async sync(files: readonly string[]): Promise<void> {
    const wanted = new Set(files.map((f) => resolve(f)));
    for (const [file, w] of this.#watchers) {
      if (wanted.has(file)) continue;
      w.close();
      this.#watchers.delete(file);
    }
    const armed: Promise<void>[] = [];
    for (const file of wanted) {
      if (this.#watchers.has(file)) continue;
      const w = watchPath(file, {
        fingerprint: () => fileFingerprint(file),
        // The pair was read just before: a change from here on is reported, none before.
        debounceMs: 150,
        pollMs: 5000,
        persistent: false,
        onChange: () => this.#onChange(file),
        onError: (err) => this.#logger.error({ err, file }, 'certificate file watch failed; the poll still looks at it'),
      });
      this.#watchers.set(file, w);
      armed.push(w.ready);
    }
    await Promise.all(armed);
  }

  close(): void {
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }
}
