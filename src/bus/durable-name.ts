/**
 * Durable names become JetStream consumer names, which may not contain `.`, `*`, `>` or
 * whitespace; one rule for every backend keeps a config valid on all of them.
 */
const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function validateDurableName(name: string): void {
  if (!DURABLE_NAME.test(name)) {
    throw new TypeError(`durable subscription name ${JSON.stringify(name)} must be 1-64 letters, digits, '-' or '_'`);
  }
}
