/**
 * Strict ISO 8601 times for command-line options. `Date.parse` alone also guesses at other
 * text (`2026-01-01 12:00 PM`, `12`) and rolls days that do not exist over (`2026-02-30` is
 * 2 March), so an option would silently mean another time.
 */

/** A date, optionally with a time and an offset (RFC 3339 profile; `T` or a space). Matched whole. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$/;

/**
 * Milliseconds since the epoch, or undefined when `value` is not such a time or names a day
 * that does not exist.
 *
 * @example
 *   parseIsoTime('2026-02-28T10:00:00Z'); // 1772272800000
 *   parseIsoTime('2026-02-30');           // undefined
 */
export function parseIsoTime(value: string): number | undefined {
  const iso = ISO_TIME.exec(value);
  if (!iso) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) return undefined;
  const [year, month, day] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return t;
}
