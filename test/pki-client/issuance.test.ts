/**
 * The workload issuance client against a real HTTPS "Gatehouse" serving the CA's HTTP API:
 * first certificate with a bootstrap token (replay refused), persisted key and certificate
 * (0600, reused after a restart, refused when readable by others), renewal over mTLS before
 * expiry, and openssl as the judge of what ends up on disk.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkloadIdentity, type WorkloadIdentityOptions } from '../../src/pki/client/workload-identity.ts';
import { PENDING_FILE } from '../../src/pki/client/material-store.ts';
import type { PkiEvent } from '../../src/pki/events.ts';
import type { TlsMaterial } from '../../src/pki/mtls/tls-material.ts';
import { Agent, request } from 'undici';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { mustOpenssl } from '../pki/support/openssl.ts';
import { spiffe, startTestPki, type TestPki } from './support/gatehouse-pki.ts';

describe('workload issuance client', () => {
  let pki: TestPki;
  let base: string;
  const running: WorkloadIdentity[] = [];
  const dir = (name: string) => join(base, name);
  const start = async (options: Partial<WorkloadIdentityOptions> & { spiffeId: string }) => {
    const identity = await WorkloadIdentity.start({ gatehouseUrl: pki.url, gatehouseCa: pki.gatehouseCa, trustRefreshMs: 60_000, ...options });
    running.push(identity);
    return identity;
  };

  before(async () => {
    pki = await startTestPki({ backdateSeconds: 0 });
    base = await mkdtemp(join(tmpdir(), 'gatehouse-pki-client-'));
  });
  after(async () => {
    for (const r of running) await r.stop();
    await pki?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('obtains a certificate with a bootstrap token and stores key (0600) and chain that openssl verifies', async () => {
    const id = spiffe('svc', 'mail');
    const identity = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('mail') });
    assert.equal(identity.material.spiffeId, id);
    assert.equal((await stat(join(dir('mail'), 'key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir('mail'), 'cert.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(dir('mail'))).mode & 0o777, 0o700);
    const verified = await mustOpenssl(['verify', '-CAfile', pki.f.rootPath, '-untrusted', pki.f.intermediatePath, '-purpose', 'sslclient', join(dir('mail'), 'cert.pem')]);
    assert.match(verified, /OK/);
    const text = await mustOpenssl(['x509', '-in', join(dir('mail'), 'cert.pem'), '-noout', '-text']);
    assert.match(text, new RegExp(`URI:${id.replace(/[/.]/g, '\\$&')}`));
    // The stored key is the certificate's key.
    const fromKey = await mustOpenssl(['pkey', '-in', join(dir('mail'), 'key.pem'), '-pubout']);
    const fromCert = await mustOpenssl(['x509', '-in', join(dir('mail'), 'cert.pem'), '-noout', '-pubkey']);
    assert.equal(fromKey, fromCert);
    assert.match(fromKey, /BEGIN PUBLIC KEY/);
    assert.equal((await pki.f.ca.get(identity.material.serial))?.issuedVia, 'bootstrap');
  });

  it('makes a P-384 key when asked, and openssl reads the certificate as P-384', async () => {
    const id = spiffe('svc', 'p384');
    await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('p384'), keyAlgorithm: 'ECDSA-P384' });
    const text = await mustOpenssl(['x509', '-in', join(dir('p384'), 'cert.pem'), '-noout', '-text']);
    assert.match(text, /NIST CURVE: P-384|secp384r1/);
  });

  it('refuses a replayed bootstrap token (ERR_PKI_BOOTSTRAP_TOKEN_INVALID) and stores nothing', async () => {
    const id = spiffe('svc', 'replay');
    const token = await pki.token(id);
    await start({ spiffeId: id, bootstrapToken: token, dataDir: dir('replay-1') });
    await assert.rejects(start({ spiffeId: id, bootstrapToken: token, dataDir: dir('replay-2') }), { code: 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' });
    await assert.rejects(stat(join(dir('replay-2'), 'key.pem')), { code: 'ENOENT' });
  });

  it('refuses a bootstrap token issued for another identity (ERR_PKI_IDENTITY_NOT_ALLOWED)', async () => {
    await assert.rejects(start({ spiffeId: spiffe('svc', 'thief'), bootstrapToken: await pki.token(spiffe('svc', 'victim')) }), { code: 'ERR_PKI_IDENTITY_NOT_ALLOWED' });
  });

  it('reuses the stored key and certificate after a restart, without a token and without asking the CA for a certificate', async () => {
    const id = spiffe('svc', 'restart');
    const first = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('restart') });
    const before = first.material;
    await first.stop();
    const issuedBefore = pki.calls.filter((p) => p.endsWith('/issue') || p.endsWith('/renew')).length;
    const second = await start({ spiffeId: id, dataDir: dir('restart') });
    assert.equal(second.material.serial, before.serial);
    assert.equal(second.material.keyPem, before.keyPem);
    assert.equal(pki.calls.filter((p) => p.endsWith('/issue') || p.endsWith('/renew')).length, issuedBefore);
  });

  it('refuses to start with a stored key file readable by group or others (ERR_PKI_CLIENT_KEY_PERMISSIONS)', async () => {
    const id = spiffe('svc', 'loose');
    const first = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('loose') });
    await first.stop();
    await chmod(join(dir('loose'), 'key.pem'), 0o644);
    await assert.rejects(start({ spiffeId: id, dataDir: dir('loose') }), { code: 'ERR_PKI_CLIENT_KEY_PERMISSIONS' });
    await chmod(join(dir('loose'), 'key.pem'), 0o640);
    await assert.rejects(start({ spiffeId: id, dataDir: dir('loose') }), { code: 'ERR_PKI_CLIENT_KEY_PERMISSIONS' });
  });

  it('refuses to start without a token when the stored certificate is for another identity, or revoked (ERR_PKI_CLIENT_NO_CREDENTIAL)', async () => {
    const id = spiffe('svc', 'moved');
    const first = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('moved') });
    await first.stop();
    await assert.rejects(start({ spiffeId: spiffe('svc', 'other'), dataDir: dir('moved') }), { code: 'ERR_PKI_CLIENT_NO_CREDENTIAL' });
    await pki.f.ca.revoke({ serial: first.material.serial });
    await assert.rejects(start({ spiffeId: id, dataDir: dir('moved') }), { code: 'ERR_PKI_CLIENT_NO_CREDENTIAL' });
    await assert.rejects(start({ spiffeId: spiffe('svc', 'nothing'), dataDir: dir('nothing') }), { code: 'ERR_PKI_CLIENT_NO_CREDENTIAL' });
  });

  it('detects a stored key that does not belong to the stored certificate (a torn write) and needs a token', async () => {
    const a = spiffe('svc', 'torn');
    const first = await start({ spiffeId: a, bootstrapToken: await pki.token(a), dataDir: dir('torn') });
    await first.stop();
    const other = await start({ spiffeId: spiffe('svc', 'torn-other'), bootstrapToken: await pki.token(spiffe('svc', 'torn-other')), dataDir: dir('torn-other') });
    await other.stop();
    await writeFile(join(dir('torn'), 'key.pem'), await readFile(join(dir('torn-other'), 'key.pem')), { mode: 0o600 });
    await assert.rejects(start({ spiffeId: a, dataDir: dir('torn') }), (err: Error & { code?: string; cause?: { code?: string } }) => {
      assert.equal(err.code, 'ERR_PKI_CLIENT_NO_CREDENTIAL');
      assert.equal(err.cause?.code, 'ERR_PKI_CLIENT_STATE_INVALID');
      return true;
    });
  });

  it('a crash between putting the new key and the new certificate in place is finished at the next start, without a token', async () => {
    const id = spiffe('svc', 'crash');
    const first = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('crash') });
    await first.stop();
    const next = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('crash-next') });
    await next.stop();
    // The state a save of `next` leaves when the process dies after the key's rename and before the certificate's.
    await writeFile(join(dir('crash'), PENDING_FILE), JSON.stringify({ keyPem: next.material.keyPem, chainPem: next.material.chainPem }), { mode: 0o600 });
    await writeFile(join(dir('crash'), 'key.pem'), next.material.keyPem, { mode: 0o600 });
    assert.equal(await readFile(join(dir('crash'), 'cert.pem'), 'utf8'), first.material.chainPem);

    const restarted = await start({ spiffeId: id, dataDir: dir('crash') });
    assert.equal(restarted.material.serial, next.material.serial);
    assert.equal(await readFile(join(dir('crash'), 'cert.pem'), 'utf8'), next.material.chainPem);
    await assert.rejects(stat(join(dir('crash'), PENDING_FILE)), { code: 'ENOENT' });
    const fromKey = await mustOpenssl(['pkey', '-in', join(dir('crash'), 'key.pem'), '-pubout']);
    const fromCert = await mustOpenssl(['x509', '-in', join(dir('crash'), 'cert.pem'), '-noout', '-pubkey']);
    assert.equal(fromKey, fromCert);
  });

  it('refuses a pending key file readable by others (ERR_PKI_CLIENT_KEY_PERMISSIONS) and a pending file that is not a key pair (ERR_PKI_CLIENT_STATE_INVALID)', async () => {
    const id = spiffe('svc', 'pending-bad');
    const first = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('pending-bad') });
    await first.stop();
    const pending = join(dir('pending-bad'), PENDING_FILE);
    await writeFile(pending, JSON.stringify({ keyPem: first.material.keyPem, chainPem: first.material.chainPem }), { mode: 0o644 });
    await chmod(pending, 0o644);
    await assert.rejects(start({ spiffeId: id, dataDir: dir('pending-bad') }), { code: 'ERR_PKI_CLIENT_KEY_PERMISSIONS' });
    await writeFile(pending, '{"keyPem":', { mode: 0o600 });
    await chmod(pending, 0o600);
    await assert.rejects(start({ spiffeId: id, dataDir: dir('pending-bad') }), { code: 'ERR_PKI_CLIENT_STATE_INVALID' });
    // Neither refusal touched the working pair.
    assert.equal(await readFile(join(dir('pending-bad'), 'cert.pem'), 'utf8'), first.material.chainPem);
  });

  it('leaves no pending file behind after a successful save', async () => {
    const id = spiffe('svc', 'clean');
    const first = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('clean') });
    await first.stop();
    await assert.rejects(stat(join(dir('clean'), PENDING_FILE)), { code: 'ENOENT' });
  });

  it('restarts with the saved trust and certificate while Gatehouse is unreachable', async () => {
    const id = spiffe('svc', 'offline');
    const first = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('offline') });
    await first.stop();
    const offline = await start({ spiffeId: id, dataDir: dir('offline'), gatehouseUrl: 'https://127.0.0.1:1' });
    assert.equal(offline.material.serial, first.material.serial);
    assert.equal(offline.trust.isRevoked(first.material.serial), false);
    await assert.rejects(WorkloadIdentity.start({ gatehouseUrl: 'https://127.0.0.1:1', gatehouseCa: pki.gatehouseCa, spiffeId: id, dataDir: dir('offline-empty') }), { code: 'ERR_PKI_CLIENT_CA_UNREACHABLE' });
  });

  it('renews over mTLS with the current certificate before expiry, with a new key, and stores the result', async () => {
    const id = spiffe('svc', 'renew');
    const events: PkiEvent[] = [];
    // 300 s certificates renewed at 1 % of their life: about 3 s after issuance.
    const identity = await start({ spiffeId: id, bootstrapToken: await pki.token(id), dataDir: dir('renew'), lifetimeSeconds: 300, renewAtFraction: 0.01, onEvent: (e) => events.push(e) });
    const first = identity.material;
    const renewed = await new Promise<TlsMaterial>((resolve) => { identity.onChange((c) => { if (c.material) resolve(c.material); }); });
    assert.notEqual(renewed.serial, first.serial);
    assert.notEqual(renewed.keyPem, first.keyPem);
    assert.ok(renewed.notAfter > first.notAfter);
    assert.ok(Date.now() < first.notAfter.getTime(), 'renewed before the old certificate expired');
    const record = await pki.f.ca.get(renewed.serial);
    assert.equal(record?.issuedVia, 'renewal');
    assert.ok(pki.f.events.some((e) => e.type === 'pki.certificate.issued' && e.via === 'renewal' && e.previousSerial === first.serial), 'the CA authenticated the renewal with the old certificate');
    assert.ok(pki.calls.some((p) => p.endsWith('/renew')));
    assert.ok(events.some((e) => e.type === 'pki.rotation.completed' && e.serial === renewed.serial));
    assert.equal(await readFile(join(dir('renew'), 'key.pem'), 'utf8'), renewed.keyPem);
    assert.equal(await readFile(join(dir('renew'), 'cert.pem'), 'utf8'), renewed.chainPem);
  });

  it('does not renew a revoked certificate: the CA refuses and the failure is reported', async () => {
    const id = spiffe('svc', 'revoked-renew');
    const events: PkiEvent[] = [];
    const identity = await start({ spiffeId: id, bootstrapToken: await pki.token(id), onEvent: (e) => events.push(e) });
    await pki.f.ca.revoke({ spiffeId: id });
    await assert.rejects(identity.rotateNow(), { code: 'ERR_PKI_RENEWAL_UNAUTHORIZED' });
    assert.ok(events.some((e) => e.type === 'pki.rotation.failed' && e.code === 'ERR_PKI_RENEWAL_UNAUTHORIZED'));
  });

  it('refuses a Gatehouse whose HTTPS certificate it does not trust, and a plain-http Gatehouse URL', async () => {
    const id = spiffe('svc', 'mitm');
    await assert.rejects(WorkloadIdentity.start({ gatehouseUrl: pki.url, spiffeId: id, bootstrapToken: await pki.token(id) }), { code: 'ERR_PKI_CLIENT_CA_UNREACHABLE' });
    await assert.rejects(WorkloadIdentity.start({ gatehouseUrl: pki.url.replace('https:', 'http:'), spiffeId: id, bootstrapToken: 'gbt_x_y' }), { code: 'ERR_PKI_CLIENT_CA_UNREACHABLE' });
  });

  it('a renewal without a client certificate is refused by the CA (ERR_PKI_RENEWAL_UNAUTHORIZED)', async () => {
    const { csrPem } = await generateKeyAndCsr(spiffe('svc', 'anonymous'));
    const agent = new Agent({ connect: { ca: pki.gatehouseCa } });
    try {
      const res = await request(`${pki.url}/.well-known/gatehouse/pki/renew`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csr: csrPem }) });
      assert.equal(res.statusCode, 401);
      assert.equal((await res.body.json() as { error: string }).error, 'ERR_PKI_RENEWAL_UNAUTHORIZED');
    } finally { await agent.close(); }
  });
});
