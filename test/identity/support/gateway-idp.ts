/**
 * The identity provider inside a real, fully composed Gatehouse (`startGateway(…, {
 * compose: true })`: store, bus, CA, IdP, policy), reached over the gateway's public TLS
 * listener — which asks for client certificates from Gatehouse's CA, as in production.
 *
 * Every instance started here has the same public URL (`PUBLIC_URL`), as instances behind
 * one load balancer do; a relying party picks the instance it talks to with `fetchFor`.
 * Accounts are managed over a second connection to the instance's store, the way the
 * `gatehouse` command does it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import type { ConfigInput } from '../../../src/core/config/schema.ts';
import { openStoreFromConfig } from '../../../src/store/open-from-config.ts';
import type { Store } from '../../../src/store/types.ts';
import { IdentityClientsRepo } from '../../../src/store/repos/identity-clients-repo.ts';
import { IdentityUsersRepo } from '../../../src/store/repos/identity-users-repo.ts';
import { AccountService } from '../../../src/identity/accounts/account-service.ts';
import { openAuthority, openPkiCommandContext } from '../../../src/pki/commands/context.ts';
import { generateKeyAndCsr } from '../../../src/pki/mtls/rotator.ts';
import type { CertificateAuthority } from '../../../src/pki/authority.ts';
import { startGateway, type TestGateway } from '../../support/gateway.ts';
import { selfSignedCert } from './harness.ts';
import { rewriteFetch } from './rewrite-fetch.ts';

/** The issuer of every instance (never resolved: fetches are rewritten to the instance). */
export const PUBLIC_URL = 'https://idp.gatehouse.test';
export const TRUST_DOMAIN = 'gatehouse.internal';

export interface ClientTls { cert: string; key: string }

export interface IdpGateway {
  gw: TestGateway;
  /** The public URL (issuer). */
  origin: string;
  /** Fetch to this instance, trusting its certificate; with `clientTls`, over mutual TLS. */
  fetchFor(clientTls?: ClientTls): typeof fetch;
  /** `fetchFor()` — what RpTarget needs. */
  fetch: typeof fetch;
  accounts: AccountService;
  store: Store;
  /** Gatehouse's CA (opened over the same store), to issue client certificates. */
  ca(): Promise<CertificateAuthority>;
  close(): Promise<void>;
}

/** Starts one composed gateway; `overrides` are merged over the defaults at the top level. */
export async function startIdpGateway(overrides: ConfigInput = {}): Promise<IdpGateway> {
  const certDir = await mkdtemp(join(tmpdir(), 'gh-idp-gw-'));
  const { cert, key } = selfSignedCert();
  await writeFile(join(certDir, 'cert.pem'), cert);
  await writeFile(join(certDir, 'key.pem'), key, { mode: 0o600 });
  const gw = await startGateway({
    publicUrl: PUBLIC_URL,
    listeners: {
      https: { host: '127.0.0.1', port: 0, tls: { cert: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') } },
      http: { enabled: false },
      ops: { host: '127.0.0.1', port: 0 },
    },
    logging: { level: 'warn', accessLog: false },
    ratelimit: { edge: { enabled: false } },
    pki: { trustDomain: TRUST_DOMAIN },
    ...overrides,
  }, { compose: true });
  const store = await openStoreFromConfig(gw.gateway.config);
  const accounts = new AccountService(new IdentityUsersRepo(store.db), new IdentityClientsRepo(store.db), () => undefined);
  const fetchFor = (clientTls?: ClientTls) => rewriteFetch({ origin: PUBLIC_URL, connectOrigin: gw.url, ca: cert, ...(clientTls ? { clientCert: clientTls } : {}) });
  let authority: Promise<CertificateAuthority> | undefined;
  return {
    gw, origin: PUBLIC_URL, fetchFor, fetch: fetchFor(), accounts, store,
    ca: () => (authority ??= openPkiCommandContext({ store, config: gw.gateway.config }).then(openAuthority)),
    async close() {
      await store.close();
      await gw.close();
      await rm(certDir, { recursive: true, force: true });
    },
  };
}

/** A workload certificate from Gatehouse's CA for `spiffeId` (key generated here). */
export async function issueClientCertificate(ca: CertificateAuthority, spiffeId: string): Promise<ClientTls> {
  const { keyPem, csrPem } = await generateKeyAndCsr(spiffeId);
  const issued = await ca.issue({ csr: csrPem, spiffeId });
  return { cert: issued.chainPem, key: keyPem };
}

/** openid-client configuration for `clientId` at `idp`, over `fetch` (default: the instance's plain fetch). */
export function discover(idp: IdpGateway, clientId: string, metadata: Partial<oidc.ClientMetadata> | string | undefined, auth?: oidc.ClientAuth, fetchImpl: typeof fetch = idp.fetch): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(idp.origin), clientId, metadata, auth, { [oidc.customFetch]: fetchImpl as oidc.CustomFetch });
}
