/**
 * Durable names become JetStream consumer names, which may not contain `.`, `*`, `>` or
 * whitespace; one rule for every backend keeps a config valid on all of them.
 *
 * Subscribers share a durable group only when they share the name *and* the event filter:
 * the group's name carries a digest of the filter. Members asking for different events
 * (two versions during a rolling upgrade) would otherwise take each other's events, or
 * rewrite the shared consumer's filter under each other.
 */
import { createHash } from 'node:crypto';
import type { EventName } from '../core/events.ts';

const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const DIGEST_HEX = 12;

export function validateDurableName(name: string): void {
  if (!DURABLE_NAME.test(name)) {
    throw new TypeError(`durable subscription name ${JSON.stringify(name)} must be 1-64 letters, digits, '-' or '_'`);
  }
}

/**
 * The group a durable subscriber joins: `<durable>_<12 hex digits>`, the digits from the
 * SHA-256 of its sorted, de-duplicated event names (`*` for all). Stable across processes
 * and versions, so every member with the same filter lands in the same group.
 *
 * @example durableGroupName('audit', ['config.reloaded']) // 'audit_3f0c…' (same for every instance)
 */
export function durableGroupName(durable: string, names: readonly EventName[] | '*'): string {
  validateDurableName(durable);
  const filter = names === '*' ? '*' : [...new Set(names)].sort().join('\n');
  return `${durable}_${createHash('sha256').update(filter).digest('hex').slice(0, DIGEST_HEX)}`;
}

/**
 * Whether `group` is a group of `durable` made by any filter, or the consumer named
 * `durable` itself that versions before the digest used for every filter.
 */
export function isGroupOf(durable: string, group: string): boolean {
  return group === durable || (group.length === durable.length + 1 + DIGEST_HEX && group.startsWith(`${durable}_`) && /^[0-9a-f]+$/.test(group.slice(durable.length + 1)));
}
