/**
 * The security headers of sendHtml on every HTML response of oidc-provider: the logout
 * confirmation (`/oidc/session/end`), its success page, error pages (renderError) and the
 * form_post auto-submit page. Without them the "Sign out" button could be framed and
 * clickjacked, and the pages cached.
 */
import { PAGE_CSP, PAGE_HEADERS } from '../interaction/http.ts';

/**
 * The CSP is set before the route runs: oidc-provider adds the hash of its own inline script
 * (form_post's auto-submit) to a `script-src` already present, and to nothing else. `'none'`
 * is dropped once a hash was added (a list with `'none'` and a hash is malformed).
 */
const PROVIDER_CSP = `${PAGE_CSP}; script-src 'none'`;

/** Koa middleware for the Provider (`provider.use`, which runs it around every route). */
export async function providerPageHeaders(ctx: any, next: () => Promise<unknown>): Promise<void> {
  ctx.set('Content-Security-Policy', PROVIDER_CSP);
  await next();
  if (!ctx.response.is('html')) {
    ctx.remove('Content-Security-Policy');
    return;
  }
  const csp = String(ctx.response.get('Content-Security-Policy'));
  ctx.set('Content-Security-Policy', csp.replace(/script-src 'none' (?='sha)/, 'script-src '));
  ctx.set(PAGE_HEADERS);
}
