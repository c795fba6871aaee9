/**
 * Reads a configuration file's text, refusing what is not a regular file of a sane size. A
 * FIFO given as the file (or swapped in for it) blocked the read until something wrote to
 * it — every later reload queued behind that read, so the gateway could no longer take a
 * configuration change; a device such as /dev/zero filled memory.
 */
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';

/** Largest configuration file read: far above any real one (the default config is ~10 KiB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export async function readConfigText(file: string): Promise<string> {
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
    // In chunks to the end, never past the limit: the file may have grown since the stat.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await handle.close();
  }
}
