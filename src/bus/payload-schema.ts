/**
 * Checks a payload against the event table (src/core/events.ts). The table is the one
 * description of every payload: the compiler holds its `fields` to the payload interfaces
 * and docs/events.md is generated from it, so the runtime check is compiled from the same
 * `type` texts instead of a second schema that could drift from both.
 *
 * Understood type texts: `string`, `number`, `boolean`, `'a' | 'b'` (string literals),
 * `{ k: T; … }` (every key required), `T[]`, and the named types below.
 * test/bus/payload-schema.test.ts fails when the table uses a text not understood here.
 *
 * Undocumented keys are left out of the checked payload rather than refused (as zod's
 * objects do): a newer version may add an optional field during a rolling upgrade, and
 * refusing its events would take them from every older member of a shared durable group.
 */
import { EVENT_TABLE, type EventName } from '../core/events.ts';

/** Returns the value to deliver (the same one, or a copy without undocumented keys); undefined: it does not fit. */
type Check = (value: unknown) => unknown;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Types the table names rather than spells out; checked as far as subscribers rely on them. */
const NAMED: Record<string, Check> = {
  ErrorCode: (v) => (typeof v === 'string' && /^ERR_[A-Z0-9_]{1,64}$/.test(v) ? v : undefined),
  RevocationReason: (v) => (typeof v === 'string' ? v : undefined),
  PolicyReplayInput: (v) => (isRecord(v) ? v : undefined),
};

const LITERAL = /^'([^'\\]*)'$/;

/** Compiles one `type` text; undefined when it is not understood. */
export function compileType(text: string): Check | undefined {
  const t = text.trim();
  if (t === 'string') return (v) => (typeof v === 'string' ? v : undefined);
  if (t === 'number') return (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  if (t === 'boolean') return (v) => (typeof v === 'boolean' ? v : undefined);
  if (Object.hasOwn(NAMED, t)) return NAMED[t];
  if (t.endsWith('[]')) {
    const item = compileType(t.slice(0, -2));
    return item === undefined ? undefined : arrayOf(item);
  }
  if (t.startsWith('{') && t.endsWith('}')) return objectType(t.slice(1, -1));
  if (LITERAL.test(t.split('|')[0]?.trim() ?? '')) {
    const parts = t.split('|').map((p) => LITERAL.exec(p.trim())?.[1]);
    if (parts.some((p) => p === undefined)) return undefined;
    const allowed = new Set(parts);
    return (v) => (typeof v === 'string' && allowed.has(v) ? v : undefined);
  }
  return undefined;
}

function arrayOf(item: Check): Check {
  return (value) => {
    if (!Array.isArray(value)) return undefined;
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i] as unknown;
      const checked = item(v);
      if (checked === undefined) return undefined;
      if (checked !== v) (out ??= value.slice())[i] = checked;
    }
    return out ?? value;
  };
}

/** `k: T; k2: T2` (every key required). */
function objectType(body: string): Check | undefined {
  const fields: Field[] = [];
  for (const part of body.split(';').map((p) => p.trim()).filter((p) => p !== '')) {
    const colon = part.indexOf(':');
    const check = colon > 0 ? compileType(part.slice(colon + 1)) : undefined;
    if (check === undefined) return undefined;
    fields.push({ key: part.slice(0, colon).trim(), check, optional: false });
  }
  const record = recordOf(fields);
  return (v) => (record(v).value);
}

interface Field {
  key: string;
  check: Check;
  optional: boolean;
}

/** Checks an object's documented fields; `problem` names the first field that does not fit (never its value). */
function recordOf(fields: readonly Field[]): (value: unknown) => { value?: unknown; problem?: string } {
  return (value) => {
    if (!isRecord(value)) return { problem: 'not an object' };
    let kept = 0;
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < fields.length; i++) {
      const { key, check, optional } = fields[i] as Field;
      if (!Object.hasOwn(value, key)) {
        if (optional) continue;
        return { problem: `${key}: missing` };
      }
      const v = value[key];
      const checked = check(v);
      if (checked === undefined) return { problem: `${key}: not of the documented type` };
      kept += 1;
      if (checked !== v) (out ??= { ...value })[key] = checked;
    }
    let own = 0;
    for (const key in value) if (Object.hasOwn(value, key)) own += 1;
    if (own === kept) return { value: out ?? value };
    // Undocumented keys: deliver the documented ones only.
    const clean: Record<string, unknown> = {};
    for (const { key } of fields) if (Object.hasOwn(value, key)) clean[key] = (out ?? value)[key];
    return { value: clean };
  };
}

const PAYLOADS = new Map<string, ReturnType<typeof recordOf>>();
const UNDERSTOOD = new Map<string, string[]>();
for (const [name, spec] of Object.entries(EVENT_TABLE)) {
  const fields: Field[] = [];
  const unknown: string[] = [];
  for (const [key, doc] of Object.entries(spec.fields as Record<string, { type: string; optional?: boolean }>)) {
    const check = compileType(doc.type);
    if (check === undefined) unknown.push(`${key}: ${doc.type}`);
    // A type text not understood here (test/bus/payload-schema.test.ts says so) is only required present.
    fields.push({ key, check: check ?? ((v) => v), optional: doc.optional === true });
  }
  PAYLOADS.set(name, recordOf(fields));
  if (unknown.length > 0) UNDERSTOOD.set(name, unknown);
}

/** `name.field: type` of every documented field whose type text is not understood (empty when all are). */
export function uncheckedFields(): string[] {
  return [...UNDERSTOOD].flatMap(([name, fields]) => fields.map((f) => `${name}.${f}`));
}

export type PayloadCheck = { ok: true; payload: Record<string, unknown> } | { ok: false; problem: string };

/**
 * Checks `payload` against the table row of `name`: every required field present, every
 * present field of its documented type. The payload returned is the one given, or a copy
 * without undocumented keys.
 */
export function checkPayload(name: EventName, payload: unknown): PayloadCheck {
  const check = PAYLOADS.get(name);
  if (check === undefined) return { ok: false, problem: 'unknown event name' };
  const result = check(payload);
  return result.problem === undefined ? { ok: true, payload: result.value as Record<string, unknown> } : { ok: false, problem: `payload ${result.problem}` };
}
