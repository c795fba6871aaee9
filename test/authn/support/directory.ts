/**
 * A principal directory and API token verifier held in memory: the in-test stand-in for the
 * identity provider's PrincipalDirectory until the tests are switched to the real one.
 * Changing a principal publishes `principal.changed`, as the IdP must.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiTokenInfo, ApiTokenVerifier, Principal, PrincipalLookup, PublishInvalidation } from '../../../src/authn/types.ts';

export class TestDirectory implements PrincipalLookup, ApiTokenVerifier {
  readonly #principals = new Map<string, Principal>();
  readonly #tokens = new Map<string, ApiTokenInfo & { revoked: boolean }>();
  readonly #publish: PublishInvalidation;
  lookups = 0;

  constructor(publish: PublishInvalidation) { this.#publish = publish; }

  add(p: Partial<Principal> & { subject: string }): Principal {
    const principal: Principal = { kind: 'user', roles: [], disabled: false, ...p };
    this.#principals.set(p.subject, principal);
    return principal;
  }

  async setDisabled(subject: string, disabled: boolean): Promise<void> {
    const p = this.#principals.get(subject);
    if (p === undefined) throw new Error(`no ${subject}`);
    this.#principals.set(subject, { ...p, disabled });
    await this.#publish({ type: 'principal.changed', subject });
  }

  /** Disables `subject` without announcing it (as the CLI does while the gateway runs on the in-process bus, or when the event is lost). */
  setDisabledUnannounced(subject: string, disabled: boolean): void {
    const p = this.#principals.get(subject);
    if (p === undefined) throw new Error(`no ${subject}`);
    this.#principals.set(subject, { ...p, disabled });
  }

  /** Ends every sign-in of `subject` made at or before `atSec` (as a password or MFA reset does). */
  async signOut(subject: string, atSec: number): Promise<void> {
    const p = this.#principals.get(subject);
    if (p === undefined) throw new Error(`no ${subject}`);
    this.#principals.set(subject, { ...p, signedOutAt: atSec });
    await this.#publish({ type: 'principal.changed', subject });
  }

  async getPrincipal(subject: string): Promise<Principal | undefined> {
    this.lookups++;
    return this.#principals.get(subject);
  }

  issueApiToken(subject: string, expiresAt?: number): { token: string; tokenId: string } {
    const token = `ghs_${randomBytes(24).toString('base64url')}`;
    const tokenId = `tok_${randomBytes(6).toString('hex')}`;
    this.#tokens.set(createHash('sha256').update(token).digest('hex'), { tokenId, subject, revoked: false, ...(expiresAt === undefined ? {} : { expiresAt }) });
    return { token, tokenId };
  }

  async revokeApiToken(tokenId: string): Promise<void> {
    for (const t of this.#tokens.values()) if (t.tokenId === tokenId) t.revoked = true;
    await this.#publish({ type: 'api-token.revoked', tokenId });
  }

  async verifyApiToken(token: string): Promise<ApiTokenInfo | undefined> {
    const t = this.#tokens.get(createHash('sha256').update(token).digest('hex'));
    if (t === undefined || t.revoked) return undefined;
    return { tokenId: t.tokenId, subject: t.subject, ...(t.expiresAt === undefined ? {} : { expiresAt: t.expiresAt }) };
  }
}
