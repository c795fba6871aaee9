/**
 * Server-rendered pages of the sign-in flow. Every interpolated value goes through `esc`;
 * pages carry no script and load nothing from elsewhere (see the CSP in interaction-http.ts).
 */

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}
input,button{display:block;width:100%;box-sizing:border-box;margin:.4rem 0;padding:.6rem;font-size:1rem}.err{color:#a00}code{word-break:break-all}</style>
</head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function hidden(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${esc(csrf)}">`;
}

function error(message: string | undefined): string {
  return message ? `<p class="err" role="alert">${esc(message)}</p>` : '';
}

export interface LoginPageInput {
  uid: string;
  csrf: string;
  username?: string;
  error?: string;
  providers: { name: string; label: string }[];
}

export function loginPage(p: LoginPageInput): string {
  const base = `/oidc/interaction/${encodeURIComponent(p.uid)}`;
  const federated = p.providers.map((f) =>
    `<form method="post" action="${base}/federated/${encodeURIComponent(f.name)}">${hidden(p.csrf)}<button type="submit">Sign in with ${esc(f.label)}</button></form>`).join('');
  return layout('Sign in', `${error(p.error)}
<form method="post" action="${base}/login" autocomplete="on">${hidden(p.csrf)}
<label>User name or e-mail<input name="username" autocomplete="username" required value="${esc(p.username ?? '')}"></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>${federated}
<p><a href="${base}/abort">Cancel</a></p>`);
}

export function mfaPage(uid: string, csrf: string, message?: string): string {
  const base = `/oidc/interaction/${encodeURIComponent(uid)}`;
  return layout('Verification code', `${error(message)}
<form method="post" action="${base}/mfa">${hidden(csrf)}
<label>Code from your authenticator app<input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}"></label>
<button type="submit">Verify</button></form>
<form method="post" action="${base}/mfa">${hidden(csrf)}
<label>Or a recovery code<input name="recovery_code" autocomplete="off"></label>
<button type="submit">Use recovery code</button></form>`);
}

export function enrollPage(uid: string, csrf: string, secret: string, uri: string, message?: string): string {
  const base = `/oidc/interaction/${encodeURIComponent(uid)}`;
  return layout('Set up two-factor authentication', `${error(message)}
<p>Add this account to your authenticator app, then enter the code it shows.</p>
<p>Key: <code data-totp-secret="${esc(secret)}">${esc(secret)}</code></p><p><a href="${esc(uri)}" data-totp-uri>otpauth link</a></p>
<form method="post" action="${base}/enroll">${hidden(csrf)}
<label>Code<input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required></label>
<button type="submit">Enable</button></form>`);
}

/** `fromNextSignIn`: the enrolment is not this sign-in's second factor; say when it starts to count. */
export function recoveryCodesPage(uid: string, csrf: string, codes: string[], fromNextSignIn = false): string {
  const base = `/oidc/interaction/${encodeURIComponent(uid)}`;
  const next = fromNextSignIn ? '<p>Your authenticator is set up. From your next sign-in on you will be asked for its code; an action that needs a second factor will ask you to sign in again.</p>' : '';
  return layout('Recovery codes', `${next}<p>Keep these codes somewhere safe. Each works once if you lose your authenticator. They are not shown again.</p>
<ul>${codes.map((c) => `<li><code data-recovery-code>${esc(c)}</code></li>`).join('')}</ul>
<form method="post" action="${base}/continue">${hidden(csrf)}<button type="submit">Continue</button></form>`);
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<p>${esc(message)}</p>`);
}

export function errorPage(code: string, description?: string): string {
  return layout('Sign-in problem', `<p>${esc(description ?? 'The request could not be completed.')}</p><p><small>${esc(code)}</small></p>`);
}

export function logoutPage(form: string): string {
  // `form` is oidc-provider's own markup (hidden xsrf field); it is not user input.
  return layout('Sign out', `${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button>`);
}

export function postLogoutPage(): string {
  return layout('Signed out', '<p>You are signed out.</p>');
}
