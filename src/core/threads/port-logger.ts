/**
 * A logger for a worker thread whose lines belong in the main thread's log (its destination, its
 * redaction): each call becomes a message, which the main side hands to {@link logFromThread}.
 * Errors do not survive the copy with their codes, so they are sent as the fields a log shows.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { toGatehouseError } from '../errors.ts';

/** The message a {@link portLogger} call sends. */
export interface LogMessage {
  type: 'log';
  level: 'error' | 'warn' | 'info' | 'debug';
  fields: Record<string, unknown>;
  msg: string;
}

export function portLogger(port: MessagePort, bindings: Record<string, unknown> = {}): Logger {
  const send = (level: LogMessage['level']) => (obj: unknown, msg?: string) => {
    const fields: Record<string, unknown> = { ...bindings };
    let text = msg ?? '';
    if (typeof obj === 'string') text = obj;
    else if (obj !== null && typeof obj === 'object') {
      for (const [k, v] of Object.entries(obj)) {
        if (v instanceof Error) {
          const e = toGatehouseError(v);
          fields[k] = { code: e.code, message: e.message, detail: e.detail };
        } else fields[k] = v;
      }
    }
    try {
      port.postMessage({ type: 'log', level, fields, msg: text } satisfies LogMessage);
    } catch {
      // A field that cannot be copied (a function, a handle): the line still goes, with each field as text.
      // A logger that threw would turn the caller's error handling into an uncaught error of the thread.
      const asText = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'object' && v !== null ? safeJson(v) : String(v)]));
      port.postMessage({ type: 'log', level, fields: asText, msg: text } satisfies LogMessage);
    }
  };
  return {
    error: send('error'), warn: send('warn'), info: send('info'), debug: send('debug'), fatal: send('error'), trace: () => {},
    child: (more: Record<string, unknown>) => portLogger(port, { ...bindings, ...more }),
  } as unknown as Logger;
}

/** Writes a thread's {@link LogMessage} to `logger`, naming the thread. */
export function logFromThread(logger: Logger | undefined, thread: string, m: LogMessage): void {
  logger?.[m.level]({ ...m.fields, thread }, m.msg);
}

function safeJson(v: object): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
