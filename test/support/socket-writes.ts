/**
 * Counts the writes a socket hands to its handle (each `_write` or `_writev` of node:net, which
 * a TLS socket encrypts and writes), so that a test can tell one write from a write and an
 * empty one behind it.
 */
import type { Socket } from 'node:net';

interface Writing { _writeGeneric(...args: unknown[]): unknown }

/** Starts counting on `socket`; `stop()` restores it and returns the count. */
export function countSocketWrites(socket: Socket): { stop(): number } {
  const s = socket as unknown as Writing;
  const own = Object.hasOwn(s, '_writeGeneric');
  const original = s._writeGeneric;
  let count = 0;
  s._writeGeneric = function counted(this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  return {
    stop() {
      if (own) s._writeGeneric = original;
      else delete (s as Partial<Writing>)._writeGeneric;
      return count;
    },
  };
}
