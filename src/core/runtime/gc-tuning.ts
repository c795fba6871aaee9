/**
 * V8 settings for a gateway process, applied once when the gateway starts (Gateway.start), before
 * it serves: the same for `gatehouse start`, the sample application and an embedder.
 *
 * `--no-allocation-site-pretenuring`: V8 watches how many objects of each allocation site survive
 * a young-generation collection and, past a threshold, allocates that site's objects directly in
 * the old generation. A proxy under many concurrent connections keeps each request's objects (the
 * upstream response's header buffers from undici's parser first of all) alive across a scavenge
 * often enough to trip it; from then on every request's headers went to the old generation and
 * died there. Measured on the bare path at 1,000 connections (BENCHMARKS.md, 2026-11-24): scavenges
 * of ~9.5 ms with ~3 MB promoted each became ~4–6 ms with ~0.5 MB; throughput ×1.12 with the flag on
 * the command line (5 rounds, every one faster) and ×1.06 set from here (4 of 5 rounds faster), p99
 * lower in every round; at 100 connections ×0.99 (within the rounds' spread).
 */
import { setFlagsFromString } from 'node:v8';

let applied = false;

export function tuneGarbageCollector(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString('--no-allocation-site-pretenuring');
}
