/**
 * A redactor whose extra rules (`audit.redact.keys`, `audit.redact.patterns`) follow
 * configuration reloads: an operator who spots a new secret shape in the logs adds a pattern
 * and reloads, and every record and log line written after the reload is scrubbed of it.
 *
 * `update` compiles the new rules and swaps them in with one assignment: a value being
 * redacted at that moment is redacted whole by the old rules or whole by the new ones, never
 * by a mix. The built-in rules of redact.ts apply either way.
 *
 * @example
 *   const redactor = createLiveRedactor(config.audit.redact);
 *   const logger = createLogger({ redactor });
 *   // on reload:
 *   redactor.update(next.audit.redact);
 */
import { createRedactor, type RedactionConfig, type Redactor } from './redact.ts';

export interface LiveRedactor extends Redactor {
  /** Replaces the configured rules for everything redacted from now on. */
  update(config: RedactionConfig): void;
}

export function createLiveRedactor(config: RedactionConfig = {}): LiveRedactor {
  let current = createRedactor(config);
  return {
    value: (value) => current.value(value),
    string: (text) => current.string(text),
    isSecretKey: (key) => current.isSecretKey(key),
    logFormatter: (object) => current.logFormatter(object),
    logMethod(args, method) { current.logMethod.call(this, args, method); },
    update(next) {
      current = createRedactor(next);
    },
  };
}
