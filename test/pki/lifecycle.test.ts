/**
 * The whole life of a workload certificate through the commands and the HTTP API, on the
 * real store (SQLite and PostgreSQL), judged by openssl: bootstrap, renewal over mTLS,
 * revocation, CRL download, offline root, two instances sharing one CA.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import { caExportRootCommand, caInitCommand, certInspectCommand, certListCommand, certRevokeCommand, bootstrapTokenCreateCommand, openAuthority, type PkiCommandContext } from '../../src/pki/commands/index.ts';
import { createPkiHttpHandler } from '../../src/pki/http/pki-http-handler.ts';
import { CrlWatcher } from '../../src/pki/mtls/crl-watcher.ts';
import { MtlsServerGuard } from '../../src/pki/mtls/server-guard.ts';
import type { PkiRepository } from '../../src/pki/repository.ts';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serviceOrSkip } from '../support/services.ts';
import { postgresBackend, sqliteBackend, type PkiBackend } from './support/backends.ts';
import { makeCsr, mustOpenssl, openssl, scratch } from './support/openssl.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { normalizeSerial } from '../../src/pki/serial.ts';

const TD = 'life.gatehouse';
const ID = `spiffe://${TD}/svc/mail`;

interface Reply { status: number; body: Buffer; type: string | undefined }

function call(port: number, method: string, path: string, body?: unknown, tls: { key?: string; cert?: string; ca?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, method, path, servername: 'localhost', ca: tls.ca, ...(tls.key ? { key: tls.key, cert: tls.cert } : {}), headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

function registerLifecycle(backend: PkiBackend, skip: false | string): void {
  describe(`certificate lifecycle over HTTP and commands (${backend.name})`, { skip }, () => {
    let close: () => Promise<void>;
    let another: () => Promise<PkiRepository>;
    let ctx: PkiCommandContext;
    let ca: CertificateAuthority;
    let server: Server;
    let port: number;
    let tmp: Awaited<ReturnType<typeof scratch>>;
    let rootPath: string;
    let intermediatePath: string;

    before(async () => {
      tmp = await scratch();
      const created = await backend.create();
      close = created.close;
      another = created.another;
      ctx = { repo: created.repo, config: pkiSchema.parse({ trustDomain: TD }), publicUrl: 'https://localhost:8443', masterKey: Buffer.from(randomBytes(32).toString('base64url')) };
      await caInitCommand(ctx);
      ca = await openAuthority(ctx);
      rootPath = await tmp.write('root.pem', ca.rootCertPem);
      intermediatePath = await tmp.write('intermediate.pem', ca.intermediateCertPem);
      // The API listener: client certificates optional (bootstrap has none), renewal checks its own.
      const csr = await generateKeyAndCsr(`spiffe://${TD}/gateway/edge`, { dnsNames: ['localhost'] });
      const own = await ca.issue({ csr: csr.csrPem, spiffeId: `spiffe://${TD}/gateway/edge`, allowedDnsNames: ['localhost'] });
      const guard = new MtlsServerGuard({ material: { keyPem: csr.keyPem, chainPem: own.chainPem, spiffeId: own.spiffeId, serial: own.serial, notBefore: own.notBefore, notAfter: own.notAfter }, trust: await ca.currentTrust(), requireClientCert: false });
      const handler = createPkiHttpHandler({ ca });
      server = createServer(guard.serverOptions(), (req, res) => { handler(req, res).then((handled) => { if (!handled) { res.statusCode = 404; res.end(); } }); });
      guard.attach(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    after(async () => {
      server?.closeAllConnections();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      await close?.();
      await tmp?.cleanup();
    });

    it('refuses a second ca init (ERR_PKI_ALREADY_INITIALIZED) and keeps no key in clear in the store', async () => {
      await assert.rejects(caInitCommand(ctx), { code: 'ERR_PKI_ALREADY_INITIALIZED' });
      const stored = await ctx.repo.getCa();
      assert.ok(stored);
      assert.doesNotMatch(JSON.stringify(stored), /PRIVATE KEY|MIGHAgEA|MIG2AgEA/);
      await assert.rejects(openAuthority({ ...ctx, masterKey: Buffer.from('a-wrong-master-key-that-is-long-enough') }), { code: 'ERR_PKI_KEY_UNSEAL_FAILED' });
    });

    let current: { keyPem: string; certPem: string; serial: string };

    it('issues over HTTP with a bootstrap token, once; a replayed token is refused', async () => {
      const { token } = await bootstrapTokenCreateCommand(ctx, { spiffeId: ID, dnsNames: ['mail.internal'] });
      assert.equal(JSON.stringify(await ctx.repo.listCertificates({})).includes(token), false);
      const csr = await makeCsr(tmp.dir, 'boot', 'ec-p256', `URI:${ID},DNS:mail.internal`);
      const r = await call(port, 'POST', '/.well-known/gatehouse/pki/issue', { csr: csr.csrPem, token }, { ca: ca.rootCertPem });
      assert.equal(r.status, 201, r.body.toString());
      const body = JSON.parse(r.body.toString()) as { certificate: string; chain: string; serial: string; spiffeId: string };
      assert.equal(body.spiffeId, ID);
      const certPath = await tmp.write('boot.crt', body.certificate);
      assert.equal((await openssl(['verify', '-CAfile', rootPath, '-untrusted', intermediatePath, certPath])).code, 0);
      current = { keyPem: csr.keyPem, certPem: body.chain, serial: body.serial };

      const csr2 = await makeCsr(tmp.dir, 'replay', 'ec-p256');
      const replay = await call(port, 'POST', '/.well-known/gatehouse/pki/issue', { csr: csr2.csrPem, token }, { ca: ca.rootCertPem });
      assert.equal(replay.status, 401);
      assert.equal(JSON.parse(replay.body.toString()).error, 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID');
    });

    it('renews over mTLS with the current certificate; refuses renewal without one', async () => {
      const csr = await makeCsr(tmp.dir, 'renew', 'ec-p256', `DNS:mail.internal`);
      const anonymous = await call(port, 'POST', '/.well-known/gatehouse/pki/renew', { csr: csr.csrPem }, { ca: ca.rootCertPem });
      assert.equal(anonymous.status, 401);
      assert.equal(JSON.parse(anonymous.body.toString()).error, 'ERR_PKI_RENEWAL_UNAUTHORIZED');
      const r = await call(port, 'POST', '/.well-known/gatehouse/pki/renew', { csr: csr.csrPem }, { ca: ca.rootCertPem, key: current.keyPem, cert: current.certPem });
      assert.equal(r.status, 201, r.body.toString());
      const body = JSON.parse(r.body.toString()) as { chain: string; serial: string; spiffeId: string };
      assert.equal(body.spiffeId, ID);
      assert.notEqual(body.serial, current.serial);
      const inspected = await certInspectCommand(body.chain, ctx);
      assert.deepEqual(inspected.spiffeIds, [ID]);
      assert.deepEqual(inspected.dnsNames, ['mail.internal']);
      assert.equal(inspected.status, 'valid');
    });

    it('revokes by SPIFFE id; openssl finds the serials in the downloaded CRL and rejects the chain', async () => {
      const live = await certListCommand(ctx, { spiffeId: ID, live: true });
      assert.equal(live.length, 2);
      const { revoked } = await certRevokeCommand(ctx, { spiffeId: ID, reason: 'keyCompromise' });
      assert.deepEqual(revoked.sort(), live.map((c) => c.serial).sort());
      const der = await call(port, 'GET', '/.well-known/gatehouse/crl', undefined, { ca: ca.rootCertPem });
      assert.equal(der.status, 200);
      assert.equal(der.type, 'application/pkix-crl');
      const crlPath = await tmp.write('crl.der', der.body);
      const text = await mustOpenssl(['crl', '-inform', 'DER', '-in', crlPath, '-noout', '-text']);
      const listed = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => normalizeSerial(m[1]!));
      for (const serial of revoked) assert.ok(listed.includes(serial), `${serial} not in ${listed.join(', ')}`);
      assert.match(text, /Key Compromise/);
      assert.match(text, /X509v3 CRL Number/);
      // The CRL's signature verifies against the intermediate.
      const sig = await openssl(['crl', '-inform', 'DER', '-in', crlPath, '-noout', '-CAfile', intermediatePath]);
      assert.match(sig.stderr + sig.stdout, /verify OK/);
      const pem = await call(port, 'GET', '/.well-known/gatehouse/crl.pem', undefined, { ca: ca.rootCertPem });
      const crlPemPath = await tmp.write('crl.pem', pem.body);
      const rootCrlPath = await tmp.write('root-crl.pem', ca.rootCrlPems.join(''));
      const certPath = await tmp.write('revoked.crt', current.certPem);
      const v = await openssl(['verify', '-crl_check_all', '-CAfile', rootPath, '-untrusted', intermediatePath, '-CRLfile', crlPemPath, '-CRLfile', rootCrlPath, certPath]);
      assert.notEqual(v.code, 0);
      assert.match(v.stdout + v.stderr, /certificate revoked/);
    });

    it('refuses renewal with a revoked certificate (ERR_PKI_RENEWAL_UNAUTHORIZED)', async () => {
      const csr = await makeCsr(tmp.dir, 'renew-revoked', 'ec-p256');
      const r = await call(port, 'POST', '/.well-known/gatehouse/pki/renew', { csr: csr.csrPem }, { ca: ca.rootCertPem, key: current.keyPem, cert: current.certPem });
      assert.equal(r.status, 401);
      assert.equal(JSON.parse(r.body.toString()).error, 'ERR_PKI_RENEWAL_UNAUTHORIZED');
    });

    it('a second instance on the same store sees the revocation through its CRL watcher', async () => {
      const other = await openAuthority({ ...ctx, repo: await another() });
      const changes: number[] = [];
      const watcher = new CrlWatcher({ ca: other, intervalMs: 50, onChange: () => changes.push(Date.now()) });
      const trust = await watcher.start();
      assert.equal(trust.isRevoked(current.serial), true);
      const csr = await makeCsr(tmp.dir, 'late', 'ec-p256');
      const late = await ca.issue({ csr: csr.csrPem, spiffeId: `spiffe://${TD}/svc/late` });
      assert.equal(watcher.trust?.isRevoked(late.serial), false);
      await ca.revoke({ serial: late.serial });
      const deadline = Date.now() + 5000;
      while (!watcher.trust?.isRevoked(late.serial) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      watcher.stop();
      assert.equal(watcher.trust?.isRevoked(late.serial), true);
      assert.ok(changes.length >= 2);
    });

    it('in production, exporting the root key without a passphrase is refused (ERR_CONFIG_INSECURE_IN_PRODUCTION) and writes nothing, unless --unencrypted says so (attack surface: the root key in clear on a disk or its backups)', async () => {
      const refused = tmp.path('clear-refused.pem');
      await assert.rejects(caExportRootCommand(ctx, { out: refused, mode: 'production' }), { code: 'ERR_CONFIG_INSECURE_IN_PRODUCTION' });
      await assert.rejects(stat(refused), { code: 'ENOENT' });
      const accepted = tmp.path('clear-accepted.pem');
      const result = await caExportRootCommand(ctx, { out: accepted, mode: 'production', unencrypted: true });
      assert.deepEqual(result, { file: accepted, encrypted: false, removed: false });
      assert.match(await readFile(accepted, 'utf8'), /BEGIN PRIVATE KEY/);
      assert.notEqual((await ctx.repo.getCa())?.rootKeySealed, null, 'the root key stays in the store');
    });

    it('exports the root key (encrypted, 0600) and removes it; the CA keeps issuing with the intermediate', async () => {
      const out = tmp.path('root-key.pem');
      const result = await caExportRootCommand(ctx, { out, passphrase: 'correct horse battery staple', remove: true });
      assert.deepEqual(result, { file: out, encrypted: true, removed: true });
      assert.equal((await stat(out)).mode & 0o777, 0o600);
      assert.match(await readFile(out, 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
      // openssl opens it with the passphrase and finds the root's public key.
      const pub = await mustOpenssl(['pkey', '-in', out, '-passin', 'pass:correct horse battery staple', '-pubout']);
      const rootPub = await mustOpenssl(['x509', '-in', rootPath, '-noout', '-pubkey']);
      assert.equal(pub.trim(), rootPub.trim());
      assert.equal((await ctx.repo.getCa())?.rootKeySealed, null);
      await assert.rejects(caExportRootCommand(ctx, { out: tmp.path('again.pem') }), { code: 'ERR_PKI_ROOT_KEY_OFFLINE' });
      const reopened = await openAuthority(ctx);
      const csr = await makeCsr(tmp.dir, 'after-offline', 'ec-p256');
      const issued = await reopened.issue({ csr: csr.csrPem, spiffeId: ID });
      const certPath = await tmp.write('after-offline.crt', issued.certificatePem);
      assert.equal((await openssl(['verify', '-CAfile', rootPath, '-untrusted', intermediatePath, certPath])).code, 0);
    });
  });
}

registerLifecycle(sqliteBackend, false);
registerLifecycle(postgresBackend, await serviceOrSkip('postgres'));
