/**
 * The time detection counts an event at: the envelope's, parsed once per distinct string
 * (events of one millisecond carry the same one), and never later than when it arrives.
 *
 * A window ends at the newest event of its key (counters.ts), so one event stamped ahead —
 * by an instance whose clock runs fast, or one whose clock was set back after — made every
 * event of that key from the other instances look older than the window: the key's counts
 * were blind for as long as the clock was ahead (a brute force spread over the instances was
 * never seen). Counted at its arrival instead, it joins the others.
 */
export function createEventTimeParser(now: () => number = Date.now): (iso: string) => number {
  let lastIso = '';
  let lastMs = 0;
  return (iso) => {
    if (iso === lastIso) return lastMs;
    const t = Date.parse(iso);
    const arrived = now();
    // A time that does not parse counts as now (and is not remembered).
    if (!Number.isFinite(t)) return arrived;
    lastIso = iso;
    // Remembered clamped: an event of the same string arrives within the same millisecond or later.
    lastMs = Math.min(t, arrived);
    return lastMs;
  };
}
