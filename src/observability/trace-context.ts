/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` parsing and
 * formatting, cheap id generation, `tracestate` validation.
 *
 * Accepted `traceparent`: version `00` exactly `00-<32 hex>-<16 hex>-<2 hex>`, lower-case
 * hex, trace id and parent id not all zeros. Version `ff` is invalid. A later version is read
 * as the spec's versioning rules say (§ Versioning of traceparent): its first four fields in
 * the version-00 layout, followed by the end or a `-` and whatever that version adds; the
 * trace is continued and passed on as version 00. Refusing it, as before, broke the trace
 * at Gatehouse for every client on a newer version.
 */
import { randomFillSync } from 'node:crypto';
import type { TraceContext } from '../gateway/context.ts';

export type { TraceContext } from '../gateway/context.ts';

/** A parsed `traceparent`. */
export interface Traceparent {
  traceId: string;
  parentId: string;
  /** trace-flags as a number; bit 0 is `sampled`. */
  flags: number;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** A version after 00: the version-00 fields, then the end or `-` and the version's own. */
const LATER_VERSION = /^(?!00|ff)[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;

/** Parses a `traceparent` header; undefined when absent, repeated or invalid. */
export function parseTraceparent(value: string | readonly string[] | undefined): Traceparent | undefined {
  if (typeof value !== 'string' || value.length < 55) return undefined;
  // Version 00 (every request with a traceparent today) is one exact-length match; only a
  // value that is not goes on to the later-version rule.
  const m = (value.length === 55 ? TRACEPARENT.exec(value) : null) ?? LATER_VERSION.exec(value);
  if (m === null) return undefined;
  const traceId = m[1]!;
  const parentId = m[2]!;
  if (traceId === ZERO_TRACE_ID || parentId === ZERO_SPAN_ID) return undefined;
  return { traceId, parentId, flags: parseInt(m[3]!, 16) };
}

// Random ids come from a pooled buffer: one randomFillSync per 170 traces instead of one
// per id, and a new trace's two ids come from one hex conversion, sliced. Trace ids are not
// secrets, but they must not be guessable to correlate or collide with other users'
// traces, so they still come from the CSPRNG.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** `bytes` fresh random bytes as lower-case hex. */
function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) { randomFillSync(pool); poolOffset = 0; }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** A new random 16-byte trace id (32 lower-case hex digits, never all zeros). */
export function generateTraceId(): string {
  for (;;) {
    const hex = randomHex(16);
    // All-zero ids are invalid; the chance is 2^-64 or less, but the spec forbids them.
    if (hex !== ZERO_TRACE_ID) return hex;
  }
}

/** A new random 8-byte span id (16 lower-case hex digits, never all zeros). */
export function generateSpanId(): string {
  for (;;) {
    const hex = randomHex(8);
    if (hex !== ZERO_SPAN_ID) return hex;
  }
}

// New traces' ids come from one hex conversion per 256 traces (randomFillSync costs ~3 µs a
// call whatever the size below a few KiB, a Buffer-to-string conversion ~150 ns): a trace
// takes two slices of it, and its traceparent is formatted here, once.
const TRACE_BATCH = 256;
const traceRandom = Buffer.allocUnsafe(24 * TRACE_BATCH);
let traceHex = '';
let nextTrace = TRACE_BATCH;

/** A new trace with fresh random ids, sampled or not. */
function newTraceContext(sampled: boolean): TraceContext {
  for (;;) {
    if (nextTrace === TRACE_BATCH) {
      randomFillSync(traceRandom);
      traceHex = traceRandom.toString('hex');
      nextTrace = 0;
    }
    const at = nextTrace++ * 48;
    const traceId = traceHex.slice(at, at + 32);
    const spanId = traceHex.slice(at + 32, at + 48);
    // All-zero ids are invalid; the chance is 2^-64 or less, but the spec forbids them.
    if (traceId !== ZERO_TRACE_ID && spanId !== ZERO_SPAN_ID) {
      return { traceId, spanId, parentSpanId: undefined, sampled, traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}` };
    }
  }
}

/**
 * The trace context of a request: continues the incoming trace when `accept` is true
 * (trusted peer) and its `traceparent` is valid, keeping its sampled flag when
 * `followSampled` (parent-based sampling) and else deciding with `sampleRatio`; without a
 * valid `traceparent` starts a new trace, sampled with probability `sampleRatio` (0 when
 * spans are not exported).
 * Either way Gatehouse gets its own span id, the parent of the upstream's spans.
 */
export function startTraceContext(traceparent: string | readonly string[] | undefined, accept: boolean, sampleRatio = 0, followSampled = true): TraceContext {
  const parent = accept ? parseTraceparent(traceparent) : undefined;
  // `sampleRatio > 0` first: without span export no random number is drawn.
  if (parent === undefined) return newTraceContext(sampleRatio > 0 && Math.random() < sampleRatio);
  const spanId = generateSpanId();
  const sampled = followSampled ? (parent.flags & 1) === 1 : sampleRatio > 0 && Math.random() < sampleRatio;
  return { traceId: parent.traceId, spanId, parentSpanId: parent.parentId, sampled, traceparent: `00-${parent.traceId}-${spanId}-${sampled ? '01' : '00'}` };
}

/** The `traceparent` header for the upstream request: this request's trace and span. */
export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.sampled ? '01' : '00'}`;
}

/** Longest `tracestate` passed on; the spec asks to propagate at least 512 characters. */
export const MAX_TRACESTATE_LENGTH = 512;

const TRACESTATE_MEMBER = /^[ \t]*(?:[a-z0-9][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e][ \t]*$/;

/**
 * `tracestate` to pass on, or undefined: it must be a single field of at most
 * {@link MAX_TRACESTATE_LENGTH} characters and at most 32 well-formed list members with
 * distinct keys.
 * Pass it on only together with an accepted `traceparent` (the spec ties them).
 */
export function validTracestate(value: string | readonly string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TRACESTATE_LENGTH) return undefined;
  const members = value.split(',');
  if (members.length > 32) return undefined;
  const keys = new Set<string>();
  for (const member of members) {
    if (member.trim() === '') continue;
    if (!TRACESTATE_MEMBER.test(member)) return undefined;
    // Each key at most once (§ tracestate list): a list with a key twice is not one to pass on.
    const key = member.slice(0, member.indexOf('=')).trim();
    if (keys.has(key)) return undefined;
    keys.add(key);
  }
  return value;
}
