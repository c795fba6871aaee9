/**
 * The part of oidc-provider's API Gatehouse uses. The package ships no type declarations;
 * these mirror its documentation (docs/README.md of panva/node-oidc-provider v9).
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown> & { client_id?: string; scope?: string; redirect_uri?: string };
    session?: { accountId?: string; uid?: string; cookie?: string };
    grantId?: string;
    lastSubmission?: Record<string, unknown>;
    exp: number;
    returnTo: string;
  }

  export interface GrantInstance {
    accountId: string;
    clientId: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    readonly issuer: string;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    on(event: string, listener: (...args: any[]) => void): this;
    /** Koa middleware around every route of the provider (oidc-provider runs it before its own). */
    use(middleware: (ctx: any, next: () => Promise<unknown>) => Promise<void>): this;
    /** The configured name of one of its cookies (`session`, `interaction`, `resume`). */
    cookieName(type: 'session' | 'interaction' | 'resume'): string;
    /** Koa's request context; its `cookies` read (and check the signature of) the provider's cookies. */
    createContext(req: IncomingMessage, res: ServerResponse): { cookies: { get(name: string, options?: { signed?: boolean }): string | undefined } };
    Grant: {
      new (properties: { accountId: string; clientId: string }): GrantInstance;
      find(id: string): Promise<GrantInstance | undefined>;
      readonly adapter: { destroy(id: string): Promise<void> };
    };
    Client: { prototype: { compareClientSecret(this: { clientSecret?: string }, actual: string): boolean | Promise<boolean> }; find(id: string): Promise<any> };
    AccessToken: { find(value: string): Promise<any>; revokeByGrantId(grantId: string): Promise<void> };
    RefreshToken: { find(value: string): Promise<any>; revokeByGrantId(grantId: string): Promise<void> };
    AuthorizationCode: { revokeByGrantId(grantId: string): Promise<void> };
    Session: { find(id: string): Promise<any> };
    emit(event: string, ...args: unknown[]): boolean;
    /** The request context of the provider request in progress (AsyncLocalStorage), if any. */
    static readonly ctx: { oidc?: { provider?: Provider } } | undefined;
  }

  /**
   * A signing key whose private part stays outside oidc-provider (`features.externalSigningSupport`,
   * experimental-01): oidc-provider builds the JWS and calls `sign(data)` for the signature.
   */
  export class ExternalSigningKey {
    kid: string | undefined;
    alg: string | undefined;
    /** Public key, for the JWKS and verification. */
    keyObject(): import('node:crypto').KeyObject;
    /** The JWS signature of `data` (the encoded header and payload). */
    sign(data: Buffer): Promise<Buffer>;
  }

  export namespace interactionPolicy {
    class Check {
      constructor(reason: string, description: string, error: string, check: (ctx: any) => boolean | Promise<boolean>);
    }
    interface Prompt {
      name: string;
      checks: Check[] & { add(check: Check, index?: number): void };
    }
    function base(): Prompt[] & { get(name: string): Prompt | undefined };
  }

  export const errors: Record<string, new (description?: string, detail?: string) => Error & { error: string; status: number }>;
}
