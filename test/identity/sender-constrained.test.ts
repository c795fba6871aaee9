/**
 * Sender-constrained tokens issued by the identity provider inside a running Gatehouse,
 * with openid-client as the client: DPoP (RFC 9449) and certificate-bound access tokens
 * over mutual TLS (RFC 8705), the client certificates coming from Gatehouse's own CA
 * through the gateway's public listener.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT } from 'jose';
import { discover, issueClientCertificate, startIdpGateway, TRUST_DOMAIN, type ClientTls, type IdpGateway } from './support/gateway-idp.ts';

const BILLING = `spiffe://${TRUST_DOMAIN}/svc/billing`;

/** SHA-256 thumbprint of the leaf certificate (RFC 8705 §3.1), base64url. */
function x5tS256(chainPem: string): string {
  return createHash('sha256').update(new X509Certificate(chainPem).raw).digest('base64url');
}

/** A self-signed certificate naming `spiffeId`, made by openssl: right name, wrong issuer. */
function selfSignedClientCert(spiffeId: string): ClientTls {
  const dir = mkdtempSync(join(tmpdir(), 'gh-forged-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=billing', '-addext', `subjectAltName=URI:${spiffeId}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('sender-constrained tokens from the IdP in a running gateway', () => {
  let idp: IdpGateway;
  let billingCert: ClientTls;
  let otherCert: ClientTls;
  let dpopSecret: string;
  let boundSecret: string;

  before(async () => {
    idp = await startIdpGateway();
    const ca = await idp.ca();
    billingCert = await issueClientCertificate(ca, BILLING);
    otherCert = await issueClientCertificate(ca, `spiffe://${TRUST_DOMAIN}/svc/other`);
    await idp.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'], authMethod: 'tls_client_auth', tlsClientAuthSanUri: BILLING, certificateBoundAccessTokens: true });
    dpopSecret = (await idp.accounts.addClient({ clientId: 'reports', kind: 'service', roles: ['reports:svc'], dpopBoundAccessTokens: true })).secret!;
    boundSecret = (await idp.accounts.addClient({ clientId: 'ledger', kind: 'service', roles: ['ledger:svc'], certificateBoundAccessTokens: true })).secret!;
  });
  after(() => idp?.close());

  describe('DPoP (RFC 9449)', () => {
    it('issues a DPoP-bound JWT (token_type DPoP, cnf.jkt = thumbprint of the proof key)', async () => {
      const config = await discover(idp, 'reports', dpopSecret);
      const keyPair = await oidc.randomDPoPKeyPair('ES256');
      const res = await oidc.clientCredentialsGrant(config, {}, { DPoP: oidc.getDPoPHandle(config, keyPair) });
      assert.equal(res.token_type, 'dpop');
      const claims = decodeJwt(res.access_token);
      assert.deepEqual(claims.cnf, { jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) });
      assert.equal(claims.sub, 'reports');
      assert.equal(config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256'), true);
    });

    it('refuses a client registered for DPoP that asks without a proof', async () => {
      const config = await discover(idp, 'reports', dpopSecret);
      // oidc-provider answers invalid_grant ("DPoP proof JWT not provided" stays in its log).
      await assert.rejects(oidc.clientCredentialsGrant(config, {}), (e: any) => e.error === 'invalid_grant');
    });

    async function proof(htu: string, jti = randomUUID()) {
      const { privateKey, publicKey } = await oidc.randomDPoPKeyPair('ES256');
      return new SignJWT({ htm: 'POST', htu, jti }).setIssuedAt().setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) }).sign(privateKey);
    }

    async function tokenRequest(dpop: string) {
      return idp.fetch(`${idp.origin}/oidc/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`reports:${dpopSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', dpop },
        body: 'grant_type=client_credentials',
      });
    }

    it('refuses a replayed DPoP proof (same jti) with invalid_grant', async () => {
      const p = await proof(`${idp.origin}/oidc/token`);
      assert.equal((await tokenRequest(p)).status, 200);
      const replay = await tokenRequest(p);
      assert.equal(replay.status, 400);
      assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
    });

    it('refuses a DPoP proof made for another endpoint (htu mismatch)', async () => {
      const res = await tokenRequest(await proof(`${idp.origin}/oidc/token/introspection`));
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_dpop_proof');
    });
  });

  describe('mutual TLS (RFC 8705)', () => {
    it('authenticates a service account by its Gatehouse certificate (tls_client_auth) and binds the token to it (cnf.x5t#S256)', async () => {
      const config = await discover(idp, 'billing', undefined, oidc.TlsClientAuth(), idp.fetchFor(billingCert));
      const res = await oidc.clientCredentialsGrant(config, {});
      const claims = decodeJwt(res.access_token);
      assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(billingCert.cert) });
      assert.equal(claims.sub, 'billing');
      assert.deepEqual(claims.roles, ['billing:svc']);
    });

    it('refuses tls_client_auth with a valid Gatehouse certificate of another SPIFFE id (invalid_client)', async () => {
      const config = await discover(idp, 'billing', undefined, oidc.TlsClientAuth(), idp.fetchFor(otherCert));
      await assert.rejects(oidc.clientCredentialsGrant(config, {}), (e: any) => e.error === 'invalid_client');
    });

    it('refuses tls_client_auth with a self-signed certificate naming the right SPIFFE id (invalid_client)', async () => {
      const config = await discover(idp, 'billing', undefined, oidc.TlsClientAuth(), idp.fetchFor(selfSignedClientCert(BILLING)));
      await assert.rejects(oidc.clientCredentialsGrant(config, {}), (e: any) => e.error === 'invalid_client');
    });

    it('refuses tls_client_auth without a client certificate (invalid_client)', async () => {
      const config = await discover(idp, 'billing', undefined, oidc.TlsClientAuth());
      await assert.rejects(oidc.clientCredentialsGrant(config, {}), (e: any) => e.error === 'invalid_client');
    });

    it('binds a secret-authenticated client\'s token to the certificate it presented, and refuses it without one', async () => {
      const withCert = await discover(idp, 'ledger', boundSecret, undefined, idp.fetchFor(billingCert));
      const res = await oidc.clientCredentialsGrant(withCert, {});
      assert.deepEqual(decodeJwt(res.access_token).cnf, { 'x5t#S256': x5tS256(billingCert.cert) });
      const without = await discover(idp, 'ledger', boundSecret);
      await assert.rejects(oidc.clientCredentialsGrant(without, {}), (e: any) => typeof e.error === 'string');
    });
  });
});
