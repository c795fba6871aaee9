/**
 * JSON lines to a writable stream (stdout or a file): one record per line.
 *
 * A reader that closes the pipe (`gatehouse audit query | head -1`) ends the export quietly,
 * as it ends any Unix filter: it wants no more records. Any other failure of the stream (a
 * full disk) fails the export with ERR_AUDIT_EXPORT_FAILED. Without a listener, the stream's
 * 'error' event would crash the command with a stack trace.
 *
 * Records hold what clients sent (paths, user names). JSON.stringify escapes C0 controls but
 * leaves DEL, the C1 controls (U+009B is CSI to terminals that take 8-bit controls) and
 * U+2028/U+2029 raw: they are written as JSON escapes, so a record printed by `audit query`
 * on a terminal cannot drive it, and a line stays one line for every reader.
 */
import type { Writable } from 'node:stream';
import { GatehouseError } from '../../core/errors.ts';
import type { AuditSink } from './sink.ts';

const jsonLine = (r: unknown): string => `${JSON.stringify(r).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;

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
      const text = records.map(jsonLine).join('');
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
