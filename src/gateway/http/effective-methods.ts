/**
 * The methods a request may make the upstream act on. Every stage that decides by method
 * (the route's method list, authorize, step-up, approve) must decide on all of them: the
 * request line's method alone lets a POST with `X-HTTP-Method-Override: DELETE` past a rule
 * about DELETE.
 */
import type { RequestContext } from '../context.ts';

/**
 * Headers with which frameworks (Express's method-override, Symfony, Spring's
 * HiddenHttpMethodFilter…) let a client replace the request line's method. The gateway
 * forwards them, so the upstream may act on the method they name. Their underscore spellings
 * (`X_HTTP_METHOD_OVERRIDE`, which CGI-style servers read as the same variable) are never
 * forwarded (upstream-headers.ts), so only these names can reach an upstream.
 */
export const METHOD_OVERRIDE_HEADERS: readonly string[] = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * The methods an override header or a `_method` query parameter names (upper-cased, each
 * comma-separated element), or undefined when the request names none: the request line's
 * method is not included. Cheap when there is none (three lookups and one test of the query),
 * as the route stage asks on every request.
 */
export function overrideMethods(ctx: RequestContext): string[] | undefined {
  let methods: string[] | undefined;
  const headers = ctx.req.headers;
  for (const name of METHOD_OVERRIDE_HEADERS) {
    const v = headers[name];
    if (v === undefined) continue;
    // Upper-cased as the frameworks do, and every comma-separated element: method-override reads
    // the first of `DELETE, PATCH` (node joins repeated fields the same way), so a rule about
    // DELETE must see it; a non-method element names no permitted action.
    methods = addEach(methods, Array.isArray(v) ? v.join(',') : v);
  }
  // `?_method=DELETE` (Express's methodOverride('_method'), Symfony and Laravel, Spring): same
  // effect from the query. Parsed only when it could name one: the word itself, or any
  // percent-encoding (`_%6Dethod`).
  if (/method|%/i.test(ctx.query)) {
    for (const [key, value] of new URLSearchParams(ctx.query)) {
      if (namesMethodParameter(key)) methods = addEach(methods, value);
    }
  }
  return methods;
}

/**
 * Every method the upstream may act on for this request: the request line's, any method an
 * override header or a `_method` query parameter names, and GET for HEAD (servers answer HEAD
 * by running their GET handler, so a forbid on GET or on a GET operation must hold for HEAD
 * too). Each one must be allowed.
 */
export function methodsToAuthorize(ctx: RequestContext): string[] {
  const methods = [ctx.method];
  const named = overrideMethods(ctx);
  if (named !== undefined) for (const m of named) if (!methods.includes(m)) methods.push(m);
  if (methods.includes('HEAD') && !methods.includes('GET')) methods.push('GET');
  return methods;
}

/**
 * Whether a decoded query key is one an upstream may read as `_method`. PHP renames keys when
 * it fills `$_GET` (so Laravel and Symfony see the renamed one): it cuts a name at NUL, drops
 * its leading spaces, and turns `.` and space into `_`, so `?.method=`, `?+_method=`,
 * `?%20_method=` and `?_method%00x=` all arrive as `_method`. Any case, and the array form
 * `_method[…]`, count too: a key counted needlessly only means one more method to allow.
 */
function namesMethodParameter(key: string): boolean {
  const nul = key.indexOf('\0');
  const name = (nul === -1 ? key : key.slice(0, nul)).replace(/^ +/, '').replace(/[ .]/g, '_');
  return /^_method(\[|$)/i.test(name);
}

function addEach(methods: string[] | undefined, value: string): string[] | undefined {
  for (const part of value.split(',')) {
    const m = part.trim().toUpperCase();
    if (m === '') continue;
    if (methods === undefined) methods = [m];
    else if (!methods.includes(m)) methods.push(m);
  }
  return methods;
}
