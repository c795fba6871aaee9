/**
 * The methods a request may make the upstream act on. Every stage that decides by method
 * (authorize, step-up, approve) must decide on all of them: the request line's method alone
 * lets a POST with `X-HTTP-Method-Override: DELETE` past a rule about DELETE.
 */
import type { RequestContext } from '../context.ts';

/**
 * Headers with which frameworks (Express's method-override, Symfony, Spring's
 * HiddenHttpMethodFilter…) let a client replace the request line's method. The gateway
 * forwards them, so the upstream may act on the method they name.
 */
const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

/**
 * Every method the upstream may act on for this request: the request line's, any method an
 * override header or a `_method` query parameter names, and GET for HEAD (servers answer HEAD
 * by running their GET handler, so a forbid on GET or on a GET operation must hold for HEAD
 * too). Each one must be allowed.
 */
export function methodsToAuthorize(ctx: RequestContext): string[] {
  const methods = [ctx.method];
  for (const name of METHOD_OVERRIDE_HEADERS) {
    const v = ctx.req.headers[name];
    if (v === undefined) continue;
    // Upper-cased as the frameworks do, and every comma-separated element: method-override reads
    // the first of `DELETE, PATCH` (node joins repeated fields the same way), so a rule about
    // DELETE must see it; a non-method element names no permitted action.
    addEach(methods, Array.isArray(v) ? v.join(',') : v);
  }
  // `?_method=DELETE` (Express's methodOverride('_method'), Symfony): same effect from the query.
  // Parsed only when it could name one: the word itself, or any percent-encoding (`_%6Dethod`).
  if (/method|%/i.test(ctx.query)) {
    for (const [key, value] of new URLSearchParams(ctx.query)) {
      if (!/^_method(\[.*\])?$/i.test(key)) continue;
      addEach(methods, value);
    }
  }
  if (methods.includes('HEAD') && !methods.includes('GET')) methods.push('GET');
  return methods;
}

function addEach(methods: string[], value: string): void {
  for (const part of value.split(',')) {
    const m = part.trim().toUpperCase();
    if (m !== '' && !methods.includes(m)) methods.push(m);
  }
}
