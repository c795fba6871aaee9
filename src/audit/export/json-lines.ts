/** JSON lines to a writable stream (stdout or a file): one record per line. */
import type { Writable } from 'node:stream';
import type { AuditSink } from './sink.ts';

export function jsonLinesSink(out: Writable): AuditSink {
  return {
    async write(records) {
      const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
      if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    },
    async close() {},
  };
}
