/**
 * The sign-in pages under `/oidc/interaction/<uid>/…` and the federation callback.
 *
 * Protections: every POST carries a CSRF token that is bound to the interaction (random,
 * stored with the interaction state, compared in constant time) and the interaction itself
 * is bound to the browser by oidc-provider's interaction cookie and by Gatehouse's `__Host-`
 * browser cookie (browser-binding.ts; the first can be planted by a sibling subdomain, the
 * second cannot); failures say the same
 * thing whatever went wrong; the only redirects are to this origin's own paths or to
 * oidc-provider's resume URL (which ends at the client's exactly registered redirect URI).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { InteractionDetails } from 'oidc-provider';
import { GatehouseError, isGatehouseError } from '../../core/errors.ts';
import type { IdentityConfig } from '../../core/config/identity-schema.ts';
import type { KvRepo } from '../../store/repos/kv-repo.ts';
import type { IdentityUsersRepo, UserRecord } from '../../store/repos/identity-users-repo.ts';
import type { SignOutCutoffs } from '../accounts/sign-out-cutoff.ts';
import type { IdentityEmit } from '../events.ts';
import { CALLBACK_PREFIX, type FederationService } from '../federation/federation-service.ts';
import { reauthenticationOf } from '../federation/reauthentication.ts';
import type { LoginService } from '../login/login-service.ts';
import type { BrowserBinding } from './browser-binding.ts';
import type { SubjectBlockGuard } from '../oidc/subject-block-guard.ts';
import { MFA_ACR, requestsMfaAcr } from '../oidc/interaction-policy.ts';
import { field, readForm, redirectLocal, sendHtml } from './http.ts';
import { enrollmentIsSecondFactor, secondFactorStep } from './second-factor-step.ts';
import { enrollPage, errorPage, loginPage, messagePage, mfaPage, recoveryCodesPage } from './pages.ts';

const STATE_NS = 'identity:interaction-state';
const GENERIC_FAILURE = 'Invalid user name or password.';
const UID = /^[A-Za-z0-9_-]{10,64}$/;
/** Federation provider names (identity-schema.ts). */
const PROVIDER = /^[a-z0-9][a-z0-9-]{0,31}$/;

interface InteractionState {
  csrf: string;
  /** Set once the password (or federation) succeeded and a second factor is due. */
  userId?: string;
  stage?: 'mfa' | 'enroll' | 'recovery-codes';
  amr?: string[];
  /** Epoch seconds of the password (or federation) step: a sign-out everywhere after it ends this sign-in too. */
  primaryAt?: number;
  federatedProvider?: string;
  enrollSealed?: string;
}

export interface InteractionRouterOptions {
  provider: () => Provider;
  /** Which browser started each interaction; every page, form and return refuses any other. */
  binding: BrowserBinding;
  /** Whether a subject is blocked (detection, `alerts block`): it is then not signed in. */
  blockGuard: SubjectBlockGuard;
  kv: KvRepo;
  users: IdentityUsersRepo;
  login: LoginService;
  federation: FederationService;
  cutoffs: SignOutCutoffs;
  config: IdentityConfig;
  emit: IdentityEmit;
  logger: Logger;
}

/** A client asking for the MFA acr (step-up) gets the second factor, never a sign-in without it. */
function asksForMfa(details: InteractionDetails): boolean {
  return requestsMfaAcr(details.params.acr_values);
}

export type InteractionHandler = (req: IncomingMessage, res: ServerResponse, url: URL, clientAddress: string) => Promise<void>;

export function createInteractionRouter(o: InteractionRouterOptions): InteractionHandler {
  const loadState = async (uid: string): Promise<InteractionState> => {
    const record = await o.kv.find(STATE_NS, uid);
    if (record) return record.payload as InteractionState;
    const state: InteractionState = { csrf: randomBytes(32).toString('base64url') };
    await o.kv.upsert(STATE_NS, uid, state, o.config.ttl.interaction);
    return state;
  };
  const saveState = (uid: string, state: InteractionState) => o.kv.upsert(STATE_NS, uid, state, o.config.ttl.interaction);

  const csrfOk = (state: InteractionState, presented: string | undefined): boolean => {
    if (!presented) return false;
    const a = Buffer.from(state.csrf);
    const b = Buffer.from(presented);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const renderLogin = (res: ServerResponse, uid: string, state: InteractionState, status = 200, error?: string, username?: string) => {
    sendHtml(res, status, loginPage({ uid, csrf: state.csrf, providers: o.federation.providers(), ...(error ? { error } : {}), ...(username ? { username } : {}) }));
  };

  /**
   * A subject under a block (detection, `alerts block`) is not signed in: the sign-in ends and the
   * client gets `access_denied` at its redirect URI (`temporarily_unavailable` when the blocks
   * cannot be read), before an IdP session exists. Asked after the password (or federation) step,
   * so that no second factor is asked of a blocked user, and again as the sign-in finishes, for a
   * block that began in between. True when refused (the response is sent).
   */
  const refusedAsBlocked = async (req: IncomingMessage, res: ServerResponse, details: InteractionDetails, user: UserRecord, clientAddress: string): Promise<boolean> => {
    const refusal = await o.blockGuard(req, user.id, { endpoint: 'sign_in', clientAddress, ...(details.params.client_id ? { clientId: String(details.params.client_id) } : {}) });
    if (!refusal) return false;
    await o.kv.destroy(STATE_NS, details.uid);
    await o.provider().interactionFinished(req, res, refusal.reason === 'blocked'
      ? { error: 'access_denied', error_description: 'the subject is temporarily blocked' }
      : { error: 'temporarily_unavailable', error_description: 'the sign-in cannot be checked now; try again later' }, { mergeWithLastSubmission: false });
    return true;
  };

  /** Ends the login step: second factor first when the user has (or must set up) one. */
  const afterPrimary = async (req: IncomingMessage, res: ServerResponse, details: InteractionDetails, state: InteractionState, user: UserRecord, amr: string[], clientAddress: string) => {
    if (await refusedAsBlocked(req, res, details, user, clientAddress)) return;
    state.userId = user.id;
    state.amr = amr;
    state.primaryAt = Math.floor(Date.now() / 1000);
    const step = secondFactorStep(o.config.mfa, user, asksForMfa(details));
    if (step === 'verify') {
      state.stage = 'mfa';
      await saveState(details.uid, state);
      sendHtml(res, 200, mfaPage(details.uid, state.csrf));
      return;
    }
    if (step === 'not_enrolled') {
      // Enrolling here would be the step-up's proof, and whoever has the password can enrol.
      await o.kv.destroy(STATE_NS, details.uid);
      o.emit('identity.login.failed', {
        username: user.username, subject: user.id, clientAddress, reason: 'mfa_not_enrolled',
        ...(details.params.client_id ? { clientId: String(details.params.client_id) } : {}),
        ...(state.federatedProvider ? { federatedProvider: state.federatedProvider } : {}),
      });
      throw new GatehouseError('ERR_IDENTITY_MFA_NOT_ENROLLED', { detail: `step-up sign-in of user ${user.id}, who has no second factor (identity.mfa.enrollDuringStepUp is off)` });
    }
    if (step === 'enroll') {
      const enrollment = await o.login.startEnrollment(user);
      state.stage = 'enroll';
      state.enrollSealed = enrollment.sealed;
      await saveState(details.uid, state);
      sendHtml(res, 200, enrollPage(details.uid, state.csrf, enrollment.secret, enrollment.uri));
      return;
    }
    await finish(req, res, details, state, user, amr, clientAddress);
  };

  const finish = async (req: IncomingMessage, res: ServerResponse, details: InteractionDetails, state: InteractionState, user: UserRecord, amr: string[], clientAddress: string) => {
    if (await refusedAsBlocked(req, res, details, user, clientAddress)) return;
    await o.kv.destroy(STATE_NS, details.uid);
    o.emit('identity.login.succeeded', {
      subject: user.id, username: user.username, clientAddress, amr,
      ...(details.params.client_id ? { clientId: String(details.params.client_id) } : {}),
      ...(state.federatedProvider ? { federatedProvider: state.federatedProvider } : {}),
    });
    await o.provider().interactionFinished(req, res, {
      login: { accountId: user.id, amr, ts: Math.floor(Date.now() / 1000), ...(amr.includes('otp') ? { acr: MFA_ACR } : {}) },
    }, { mergeWithLastSubmission: false });
  };

  /**
   * Consent is implied for administrator-registered clients: the grant covers what was
   * asked, and the client's registered `scope` already bounds what it may ask.
   */
  const consent = async (req: IncomingMessage, res: ServerResponse, details: InteractionDetails) => {
    const provider = o.provider();
    const accountId = details.session?.accountId;
    const clientId = details.params.client_id;
    if (!accountId || typeof clientId !== 'string') throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: 'consent without session' });
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  };

  const requireUserFromState = async (state: InteractionState, stage: InteractionState['stage']): Promise<UserRecord> => {
    const user = state.userId && state.stage === stage ? await o.users.findById(state.userId) : undefined;
    if (!user || user.disabled) throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `no ${stage} step pending` });
    // A password or MFA reset (or disabling) after the password step ends this sign-in as it
    // ends sessions: whoever had the old password must not finish it with a second factor.
    if (await o.cutoffs.ended(user.id, state.primaryAt)) throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `user ${user.id} signed out everywhere after the ${stage} step began` });
    return user;
  };

  return async function interactionRouter(req, res, url, clientAddress) {
    try {
      if (url.pathname.startsWith(CALLBACK_PREFIX) && req.method === 'GET') {
        // The external provider returns to its own redirect URI; hand the browser back to its
        // interaction path, where the interaction cookie is sent, saying which provider's URI it was.
        const via = url.pathname.slice(CALLBACK_PREFIX.length);
        const pending = await o.federation.pending(url.searchParams.get('state') ?? '');
        if (!pending || !UID.test(pending.uid) || !PROVIDER.test(via)) throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: 'federation callback without pending state' });
        redirectLocal(res, `/oidc/interaction/${pending.uid}/federated-return/${via}?${url.searchParams.toString()}`);
        return;
      }
      const parts = url.pathname.split('/').slice(3); // ['', 'oidc', 'interaction', uid, action, arg]
      const [uid, action = '', arg] = parts;
      if (!uid || !UID.test(uid) || parts.length > 3) throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `bad interaction path ${url.pathname}` });
      let details: InteractionDetails;
      try {
        details = await o.provider().interactionDetails(req, res);
      } catch (cause) {
        throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: 'interaction cookie missing or expired', cause });
      }
      if (details.uid !== uid) throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: 'interaction cookie for another interaction' });
      // The interaction cookie is __Secure-, which a sibling subdomain can plant; the binding is __Host-.
      const binding = await o.binding.check(uid, req.headers.cookie);
      if (binding !== 'match') {
        o.emit('identity.interaction.browser_mismatch', {
          interactionId: uid, clientAddress, reason: binding, step: 'interaction',
          ...(details.params.client_id ? { clientId: String(details.params.client_id) } : {}),
        });
        throw new GatehouseError('ERR_IDENTITY_INTERACTION_BROWSER_MISMATCH', { detail: `interaction ${uid} started in another browser (${binding})` });
      }
      const state = await loadState(uid);

      if (req.method === 'GET' && action === '') {
        if (details.prompt.name === 'consent') {
          await consent(req, res, details);
          return;
        }
        if (details.prompt.name !== 'login') throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `unsupported prompt ${details.prompt.name}` });
        renderLogin(res, uid, state);
        return;
      }
      if (req.method === 'GET' && action === 'abort') {
        await o.kv.destroy(STATE_NS, uid);
        await o.provider().interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
        return;
      }
      if (req.method === 'GET' && action === 'federated-return') {
        let finished: Awaited<ReturnType<FederationService['finish']>>;
        try {
          finished = await o.federation.finish(uid, arg ?? '', url.searchParams);
        } catch (error) {
          // An external identity refused here (domain, provisioning, disabled, link conflict) is audited like a failed sign-in.
          if (isGatehouseError(error) && (error.code === 'ERR_IDENTITY_FEDERATION_NOT_ALLOWED' || error.code === 'ERR_IDENTITY_FEDERATION_LINK_CONFLICT')) {
            const data = error.data ?? {};
            o.emit('identity.login.failed', {
              username: typeof data.email === 'string' ? data.email : '', clientAddress,
              reason: error.code === 'ERR_IDENTITY_FEDERATION_LINK_CONFLICT' ? 'federation_link_conflict' : 'federation',
              ...(typeof data.subject === 'string' ? { subject: data.subject } : {}),
              ...(typeof data.provider === 'string' ? { federatedProvider: data.provider } : {}),
              ...(details.params.client_id ? { clientId: String(details.params.client_id) } : {}),
            });
          }
          throw error;
        }
        const { user, provider } = finished;
        state.federatedProvider = provider;
        await afterPrimary(req, res, details, state, user, ['fed'], clientAddress);
        return;
      }
      if (req.method !== 'POST') throw new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: `${req.method} ${url.pathname}` });

      const form = await readForm(req);
      if (!csrfOk(state, field(form, 'csrf'))) {
        throw new GatehouseError('ERR_AUTHN_CSRF', { detail: `interaction ${uid} ${action}` });
      }
      const clientId = details.params.client_id ? String(details.params.client_id) : undefined;

      switch (action) {
        case 'login': {
          const username = field(form, 'username') ?? '';
          const password = field(form, 'password') ?? '';
          if (!username || !password || password.length > 1024) {
            renderLogin(res, uid, state, 400, GENERIC_FAILURE, username.slice(0, 256));
            return;
          }
          const outcome = await o.login.checkPassword(username, password, clientAddress, clientId);
          if (!outcome.ok) {
            const status = outcome.reason === 'bad_credentials' ? 401 : 429;
            renderLogin(res, uid, state, status, outcome.reason === 'bad_credentials' ? GENERIC_FAILURE : 'Too many attempts. Try again later.', username.slice(0, 256));
            return;
          }
          await afterPrimary(req, res, details, state, outcome.user, ['pwd'], clientAddress);
          return;
        }
        case 'mfa': {
          const user = await requireUserFromState(state, 'mfa');
          const code = field(form, 'code');
          const recoveryCode = field(form, 'recovery_code');
          const outcome = await o.login.verifySecondFactor(user, { ...(code ? { code } : {}), ...(recoveryCode ? { recoveryCode } : {}) }, clientAddress);
          if (!outcome.ok) {
            // A blocked address gets what the password step gives it (429, "Too many attempts").
            const locked = outcome.reason === 'locked' || outcome.reason === 'address_blocked';
            sendHtml(res, locked ? 429 : 401, mfaPage(uid, state.csrf, locked ? 'Too many attempts. Try again later.' : 'Invalid verification code.'));
            return;
          }
          await finish(req, res, details, state, user, [...(state.amr ?? []), 'otp', 'mfa'], clientAddress);
          return;
        }
        case 'enroll': {
          const user = await requireUserFromState(state, 'enroll');
          // Enrolled meanwhile in another sign-in (perhaps by whoever else has the password):
          // finishing this one would replace that second factor with this page's key.
          if (user.totpEnabled) throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `user ${user.id} enrolled TOTP in another sign-in` });
          const codes = state.enrollSealed ? await o.login.completeEnrollment(user, state.enrollSealed, field(form, 'code') ?? '') : undefined;
          if (!codes) {
            const again = await o.login.startEnrollment(user);
            state.enrollSealed = again.sealed;
            await saveState(uid, state);
            sendHtml(res, 401, enrollPage(uid, state.csrf, again.secret, again.uri, 'Invalid verification code. A new key was generated; add it again.'));
            return;
          }
          state.stage = 'recovery-codes';
          delete state.enrollSealed;
          await saveState(uid, state);
          sendHtml(res, 200, recoveryCodesPage(uid, state.csrf, codes, !enrollmentIsSecondFactor(o.config.mfa)));
          return;
        }
        case 'continue': {
          const user = await requireUserFromState(state, 'recovery-codes');
          // The code that confirmed the enrolment came from the authenticator just added by
          // whoever passed the first step: by default not a second factor of this sign-in.
          const amr = enrollmentIsSecondFactor(o.config.mfa) ? [...(state.amr ?? []), 'otp', 'mfa'] : [...(state.amr ?? [])];
          await finish(req, res, details, state, user, amr, clientAddress);
          return;
        }
        case 'federated': {
          // A client's prompt=login or max_age holds for the external provider's sign-in too.
          const target = await o.federation.start(arg ?? '', uid, reauthenticationOf(details.params));
          res.statusCode = 303;
          res.setHeader('Location', target.href);
          res.setHeader('Cache-Control', 'no-store');
          res.end();
          return;
        }
        default:
          throw new GatehouseError('ERR_IDENTITY_INTERACTION_INVALID', { detail: `unknown action ${action}` });
      }
    } catch (error) {
      const e = isGatehouseError(error) ? error : new GatehouseError('ERR_INTERNAL', { detail: 'sign-in page failed', cause: error });
      (e.status >= 500 ? o.logger.error.bind(o.logger) : o.logger.warn.bind(o.logger))({ err: e, code: e.code, path: url.pathname }, 'identity: interaction refused');
      if (!res.headersSent) sendHtml(res, e.status, e.status >= 500 ? messagePage('Sign-in problem', 'Something went wrong. Try again.') : errorPage(e.code, e.publicMessage));
      else res.destroy();
    }
  };
}
