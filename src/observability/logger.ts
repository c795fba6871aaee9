/**
 * Structured logging (pino). Secrets must never reach a log line, so redaction is
 * configured here once for every logger in the process: known secret-bearing keys are
 * censored wherever they appear in the first levels of an object.
 */
import pino, { type Logger, type DestinationStream } from 'pino';
import { createRedactor, type RedactionConfig, type Redactor } from '../audit/redact.ts';

/** Keys whose values are always replaced with "[REDACTED]". Matched case-sensitively on these spellings. */
export const REDACTED_KEYS = [
  'authorization', 'Authorization', 'proxy-authorization', 'cookie', 'Cookie', 'set-cookie',
  'password', 'newPassword', 'secret', 'clientSecret', 'client_secret', 'token', 'accessToken',
  'access_token', 'refreshToken', 'refresh_token', 'id_token', 'apiKey', 'privateKey', 'key',
  'code_verifier', 'otp', 'totp', 'recoveryCode', 'x-gatehouse-identity', 'dpop',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const k of REDACTED_KEYS) {
    const seg = /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `["${k}"]`;
    paths.push(seg.slice(seg.startsWith('.') ? 1 : 0), `*${seg}`, `*.*${seg}`);
  }
  return paths;
}

export interface LoggerOptions {
  level?: string;
  /** Extra keys and value patterns to redact (config `audit.redact`); the built-in rules always apply. */
  redact?: RedactionConfig;
  /** The redactor of every line, instead of one built from `redact` (a live one follows reloads: audit/live-redactor.ts). */
  redactor?: Redactor;
  instanceId?: string;
  destination?: DestinationStream;
  /** Bound of the default output's in-memory buffer ({@link MAX_BUFFERED_LOG_BYTES}); not used with `destination`. */
  maxBufferedBytes?: number;
}

/**
 * Most bytes of log lines held in memory while the output does not take them (a stalled pipe
 * or log shipper). Beyond, lines are dropped and counted, and the count is logged once the
 * output has caught up: unbounded, every request's access line piled up until the process
 * ran out of memory.
 */
export const MAX_BUFFERED_LOG_BYTES = 64 * 1024 * 1024;

export function createLogger(options: LoggerOptions = {}): Logger {
  const redactor = options.redactor ?? createRedactor(options.redact ?? {});
  let stdout: ReturnType<typeof pino.destination> | undefined;
  const maxBufferedBytes = options.maxBufferedBytes ?? MAX_BUFFERED_LOG_BYTES;
  if (options.destination === undefined) stdout = pino.destination({ sync: false, maxLength: maxBufferedBytes });
  const logger = pino({
    level: options.level ?? 'info',
    base: { instance: options.instanceId },
    redact: { paths: redactPaths(), censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // The audit log's redactor also scrubs every log line: secret-looking keys at any depth,
    // JWTs, API tokens and configured patterns inside string values.
    formatters: { level: (label) => ({ level: label }), log: redactor.logFormatter },
    // pino hands formatters.log everything but the message: the message and its %s/%o
    // arguments are scrubbed here (a connection URL with its password, an upstream's error text).
    hooks: { logMethod: redactor.logMethod },
    // formatters.log has already serialized (and redacted) an Error under `err`: serializing
    // the plain result again named every error's type "Object". A child binding is still an Error.
    serializers: { err: (err: unknown) => (err instanceof Error ? pino.stdSerializers.err(err) : err) },
  }, options.destination ?? stdout!);
  if (stdout !== undefined) {
    let dropped = 0;
    stdout.on('drop', () => { dropped++; });
    // 'drain': everything buffered has been written, so this line is not dropped in turn.
    stdout.on('drain', () => {
      if (dropped === 0) return;
      const lines = dropped;
      dropped = 0;
      logger.warn({ type: 'logging', dropped: lines, maxBufferedBytes }, 'log lines dropped: the output did not take them fast enough');
    });
  }
  // A child's bindings are written on each of its lines but never reach formatters.log (pino
  // gives children no bindings formatter either): they are redacted here, once, when the
  // child is made. Children inherit this `child`, so grandchildren are covered too.
  const child = logger.child as unknown as (this: Logger, bindings: unknown, options?: unknown) => Logger;
  const redactedChild = function redactedChild(this: Logger, bindings: unknown, childOptions?: unknown): Logger {
    const redacted = typeof bindings === 'object' && bindings !== null ? redactor.logFormatter(bindings as Record<string, unknown>) : bindings;
    return child.call(this, redacted, childOptions);
  };
  logger.child = redactedChild as unknown as Logger['child'];
  return logger;
}

export type { Logger };
