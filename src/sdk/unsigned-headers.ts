/**
 * Removes Gatehouse's unsigned headers from a request the middleware lets through, so the
 * only identity the application can read is the verified one (`identityOf(req)`).
 *
 * The gateway may also send plain `x-gatehouse-subject` / `-roles` / `-kind` (legacy
 * upstreams) and `x-gatehouse-approval`; nothing signs them. An application (or a library it
 * uses) that reads them would believe whoever reached the service without the gateway, or
 * whatever a proxy the gateway trusts passed on. The whole reserved `x-gatehouse-*` namespace
 * is dropped, not a list of today's names, so a header added later is dropped too (fail
 * closed); the signed assertion itself stays, for services that pass it on or verify again.
 */
import { IDENTITY_ASSERTION_HEADER } from './contract.ts';

const PREFIX = 'x-gatehouse-';

type Keep = ReadonlySet<string>;

function isDropped(name: string, keep: Keep): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith(PREFIX) && lower !== IDENTITY_ASSERTION_HEADER && !keep.has(lower);
}

function dropFrom(headers: unknown, keep: Keep): void {
  if (typeof headers !== 'object' || headers === null) return;
  const record = headers as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (isDropped(name, keep)) delete record[name];
  }
}

/**
 * node's IncomingMessage also keeps the headers as received (`rawHeaders`, name/value pairs)
 * and derives `headersDistinct` from them: a library that forwards or re-parses those would
 * otherwise still see the forged values.
 */
function dropFromRaw(raw: unknown, keep: Keep): void {
  if (!Array.isArray(raw)) return;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name: unknown = raw[i];
    if (typeof name === 'string' && isDropped(name, keep)) raw.splice(i, 2);
  }
}

/**
 * Drops every `x-gatehouse-*` header but the assertion and the (lower-case) names in `keep`,
 * in any letter case, in place.
 */
export function dropUnsignedIdentityHeaders(request: object, keep: Keep = new Set()): void {
  const req = request as { headers?: unknown; rawHeaders?: unknown; headersDistinct?: unknown };
  // node computes `headers` and `headersDistinct` lazily from `rawHeaders` with the count it
  // parsed, so both are built (and cleaned) before `rawHeaders` gets shorter.
  dropFrom(req.headers, keep);
  dropFrom(req.headersDistinct, keep);
  dropFromRaw(req.rawHeaders, keep);
}
