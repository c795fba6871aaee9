/**
 * `new Date(ms).toISOString()` for envelope times, without a Date per event: formatting a
 * Date costs more than the rest of an envelope together. The text up to the second is
 * formatted once per second; within it only the milliseconds change.
 */
let secondStart = Number.NaN;
let secondPrefix = '';
let lastMs = Number.NaN;
let lastIso = '';

export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  const millis = ((ms % 1000) + 1000) % 1000;
  const second = ms - millis;
  if (second !== secondStart) {
    const iso = new Date(second).toISOString();
    // Everything but "mmmZ" (the year part is longer outside 0000-9999).
    secondPrefix = iso.slice(0, -4);
    secondStart = second;
  }
  lastMs = ms;
  lastIso = `${secondPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  return lastIso;
}
