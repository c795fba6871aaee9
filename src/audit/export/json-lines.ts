/**
 * JSON lines to a writable stream (stdout or a file): one record per line.
 *
 * A reader that closes the pipe (`gatehouse audit query | head -1`) ends the export quietly,
 * as it ends any Unix filter: it wants no more records. Any other failure of the stream (a
 * full disk) fails the export with ERR_AUDIT_EXPORT_FAILED. Without a listener, the stream's
 * 'error' event would crash the command with a stack trace.
 */
import type { Writable } from 'node:stream';
import { GatehouseError } from '../../core/errors.ts';
import type { AuditSink } from './sink.ts';

export function jsonLinesSink(out: Writable): AuditSink {
  let failure: NodeJS.ErrnoException | undefined;
  // Stays attached: an error reported after the last write must not crash the command either.
  out.on('error', (err: NodeJS.ErrnoException) => { failure ??= err; });
  const outcome = (): boolean => {
    if (failure === undefined) return true;
    if (failure.code === 'EPIPE') return false;
    throw new GatehouseError('ERR_AUDIT_EXPORT_FAILED', { detail: `output: ${failure.message}`, cause: failure });
  };
  return {
    async write(records) {
      if (!outcome()) return false;
      const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
      if (!out.write(text)) {
        await new Promise<void>((resolve) => {
          const done = () => { out.off('drain', done); out.off('error', done); out.off('close', done); resolve(); };
          out.on('drain', done).on('error', done).on('close', done);
        });
      }
      return outcome();
    },
    async close() { outcome(); },
  };
}
