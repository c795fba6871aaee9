/**
 * Refuses oidc-provider's resume (`/oidc/auth/<uid>`) from a browser other than the one that
 * started the interaction (see src/identity/interaction/browser-binding.ts): a resume cookie
 * planted by a sibling subdomain would otherwise finish the attacker's sign-in in the
 * victim's browser and leave the attacker's IdP session there.
 */
import type { Logger } from 'pino';
import { ERROR_CODES } from '../../core/error-codes.ts';
import type { IdentityEmit } from '../events.ts';
import type { BrowserBinding } from '../interaction/browser-binding.ts';
import { errorPage } from '../interaction/pages.ts';
import { IDP_COOKIE_NAMES } from './cookie-names.ts';
import { OIDC_ROUTES } from './provider-config.ts';

const CODE = 'ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH';

/** Anything under the authorization path is the resume route (its router folds case and decodes). */
function underAuthorization(path: string): boolean {
  let decoded = path;
  try { decoded = decodeURIComponent(path); } catch { /* matched as sent */ }
  return decoded.toLowerCase().startsWith(`${OIDC_ROUTES.authorization}/`);
}

/** Koa middleware for the Provider (`provider.use`, before its routes). Each refusal is logged and published (`identity.interaction.browser_mismatch`). */
export function resumeBrowserBinding(binding: BrowserBinding, logger: Logger, emit: IdentityEmit) {
  return async function resumeBindingCheck(ctx: any, next: () => Promise<unknown>): Promise<void> {
    if (underAuthorization(ctx.path)) {
      // Read exactly as oidc-provider's resume reads it (signed): the interaction it will resume.
      const uid: unknown = ctx.cookies.get(IDP_COOKIE_NAMES.resume);
      const check = typeof uid === 'string' && uid ? await binding.check(uid, ctx.get('cookie') || undefined) : 'match';
      if (check !== 'match') {
        logger.warn({ code: CODE, path: ctx.path, reason: check }, 'identity: resume refused, interaction started in another browser');
        // The client address the gateway established (identity-provider.ts pins X-Forwarded-For; Koa's proxy mode reads it).
        emit('identity.interaction.browser_mismatch', { interactionId: uid as string, clientAddress: typeof ctx.ip === 'string' && ctx.ip !== '' ? ctx.ip : 'unknown', reason: check, step: 'resume' });
        ctx.status = ERROR_CODES[CODE].status;
        ctx.type = 'html';
        ctx.body = errorPage(CODE, ERROR_CODES[CODE].message);
        return;
      }
    }
    await next();
  };
}
