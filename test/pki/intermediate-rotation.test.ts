/**
 * Rotating the intermediate CA (`ca rotate-intermediate`), judged by openssl: an expired
 * intermediate is reported as such with the command to run; after a rotation new certificates
 * chain through the new intermediate, those of the previous one keep verifying (with a CRL of
 * each intermediate checked) and both can be revoked; an offline root is brought in from its
 * exported key file; running instances on the same store follow without restart.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../src/pki/authority.ts';
import { caExportRootCommand, caRotateIntermediateCommand, openAuthority, type PkiCommandContext } from '../../src/pki/commands/index.ts';
import { crlRecordPems } from '../../src/pki/crl-builder.ts';
import type { PkiEvent } from '../../src/pki/events.ts';
import { judgeIntermediateExpiry } from '../../src/pki/intermediate-expiry.ts';
import { rotateIntermediate } from '../../src/pki/intermediate-rotation.ts';
import { verifyPeer } from '../../src/pki/mtls/verify-peer.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { x509 } from '../../src/pki/x509.ts';
import { serviceOrSkip } from '../support/services.ts';
import { postgresBackend, sqliteBackend, type PkiBackend } from './support/backends.ts';
import { caFixture, TRUST_DOMAIN, PUBLIC_URL } from './support/ca-fixture.ts';
import { startRunningInstance } from './support/running-instance.ts';
import { openssl, scratch } from './support/openssl.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;

async function issue(ca: CertificateAuthority, spiffeId = ID) {
  const csr = await generateKeyAndCsr(spiffeId);
  return { ...(await ca.issue({ csr: csr.csrPem, spiffeId })), keyPem: csr.keyPem };
}

function commandContext(f: { repo: PkiCommandContext['repo']; masterKey: Uint8Array }, config = pkiSchema.parse({ trustDomain: TRUST_DOMAIN })): PkiCommandContext {
  return { repo: f.repo, config, publicUrl: PUBLIC_URL, masterKey: f.masterKey };
}

/** openssl verify with the root as the only anchor, every intermediate as untrusted and each CRL checked. */
async function verifyWithCrls(dir: Awaited<ReturnType<typeof scratch>>, ca: CertificateAuthority, certPem: string, name: string) {
  const crls = [...crlRecordPems(await ca.currentCrl()), ...ca.rootCrlPems];
  const crlArgs = (await Promise.all(crls.map((pem, i) => dir.write(`${name}-crl-${i}.pem`, pem)))).flatMap((p) => ['-CRLfile', p]);
  return openssl(['verify', '-x509_strict', '-crl_check_all', '-CAfile', await dir.write('root.pem', ca.rootCertPem),
    '-untrusted', await dir.write(`${name}-intermediates.pem`, ca.intermediatesPem), ...crlArgs, await dir.write(`${name}.pem`, certPem)]);
}

describe('intermediate CA expiry', () => {
  it('refuses issuance once the intermediate has expired with ERR_PKI_INTERMEDIATE_EXPIRED naming `gatehouse ca rotate-intermediate`, not ERR_PKI_NOT_INITIALIZED', async () => {
    const f = await caFixture();
    try {
      const notAfter = new x509.X509Certificate(f.ca.intermediateCertPem).notAfter;
      f.setNow(new Date(notAfter.getTime() + 1000));
      const csr = await generateKeyAndCsr(ID);
      await assert.rejects(f.ca.issue({ csr: csr.csrPem, spiffeId: ID }), (e: { code: string; detail?: string; status: number }) => {
        assert.equal(e.code, 'ERR_PKI_INTERMEDIATE_EXPIRED');
        assert.equal(e.status, 503);
        assert.match(e.detail ?? '', /gatehouse ca rotate-intermediate/);
        return true;
      });
    } finally { await f.cleanup(); }
  });

  it('reports an intermediate with fewer than intermediateWarningDays left as expiring (degraded) and names the command; one with more as ok', () => {
    const issuing = { serial: 'abc', notAfter: new Date(Date.UTC(2030, 0, 31)) };
    const ok = judgeIntermediateExpiry(issuing, new Date(Date.UTC(2029, 11, 1)), 30);
    assert.equal(ok.state, 'ok');
    const soon = judgeIntermediateExpiry(issuing, new Date(Date.UTC(2030, 0, 11)), 30);
    assert.equal(soon.state, 'expiring');
    assert.equal(soon.daysLeft, 20);
    assert.match(soon.message, /20 days left.*gatehouse ca rotate-intermediate/);
    const gone = judgeIntermediateExpiry(issuing, new Date(Date.UTC(2030, 1, 1)), 30);
    assert.equal(gone.state, 'expired');
    assert.match(gone.message, /expired.*gatehouse ca rotate-intermediate/);
  });

  it('lets a CA whose intermediate expired issue again after rotate-intermediate', async () => {
    const f = await caFixture();
    try {
      const old = new x509.X509Certificate(f.ca.intermediateCertPem);
      const at = new Date(old.notAfter.getTime() + 1000);
      f.setNow(at);
      await rotateIntermediate({ repo: f.repo, masterKey: f.masterKey, config: f.ca.config, now: at });
      // No reload by hand: issuance looks at the store again before refusing.
      const csr = await generateKeyAndCsr(ID);
      const issued = await f.ca.issue({ csr: csr.csrPem, spiffeId: ID });
      assert.notEqual(issued.chainPem.slice(issued.certificatePem.length), old.toString('pem') + '\n');
      assert.equal((await f.repo.getCa())?.previousIntermediates.length, 0, 'an expired intermediate is not kept');
    } finally { await f.cleanup(); }
  });
});

describe('ca rotate-intermediate', () => {
  const dirs: Awaited<ReturnType<typeof scratch>>[] = [];
  after(async () => { for (const d of dirs) await d.cleanup(); });

  it('issues new certificates from a new intermediate that chains to the root, while certificates of the previous one still verify, every CRL checked by openssl', async () => {
    const f = await caFixture();
    const dir = await scratch(); dirs.push(dir);
    try {
      const before = await issue(f.ca);
      const oldIntermediate = f.ca.intermediateCertPem;
      const events: PkiEvent[] = [];
      const r = await caRotateIntermediateCommand({ ...commandContext(f), onEvent: (e) => events.push(e) });
      assert.deepEqual(events.filter((e) => e.type === 'pki.ca.intermediate_rotated'), [{ type: 'pki.ca.intermediate_rotated', intermediateSerial: r.intermediateSerial, previousSerial: r.previousSerial, notAfter: r.notAfter.toISOString() }]);
      assert.equal(await f.ca.reload(), true);
      assert.notEqual(f.ca.intermediateCertPem, oldIntermediate);
      assert.equal(f.ca.issuingIntermediate.serial, r.intermediateSerial);
      assert.deepEqual(r.retained.map((p) => p.serial), [r.previousSerial]);
      const afterRotation = await issue(f.ca);

      // The new chain (leaf + new intermediate) verifies against the root alone.
      const newChain = await dir.write('new-chain.pem', afterRotation.chainPem);
      assert.ok(afterRotation.chainPem.endsWith(f.ca.intermediateCertPem));
      const v = await openssl(['verify', '-x509_strict', '-CAfile', await dir.write('root.pem', f.ca.rootCertPem), '-untrusted', newChain, newChain]);
      assert.equal(v.code, 0, v.stderr + v.stdout);
      // The two intermediates have names of their own (OpenSSL finds issuers and CRLs by name).
      assert.notEqual(new x509.X509Certificate(f.ca.intermediateCertPem).subject, new x509.X509Certificate(oldIntermediate).subject);

      for (const [name, cert] of [['old', before], ['new', afterRotation]] as const) {
        const ok = await verifyWithCrls(dir, f.ca, cert.certificatePem, `${name}-valid`);
        assert.equal(ok.code, 0, `${name}: ${ok.stderr}${ok.stdout}`);
      }
      // Revocation reaches certificates of both intermediates, each on its issuer's CRL.
      await f.ca.revoke({ serial: before.serial }, 'keyCompromise');
      await f.ca.revoke({ serial: afterRotation.serial }, 'keyCompromise');
      const crl = await f.ca.currentCrl();
      assert.equal(crl.previousDers.length, 1);
      for (const [name, cert] of [['old', before], ['new', afterRotation]] as const) {
        const refused = await verifyWithCrls(dir, f.ca, cert.certificatePem, `${name}-revoked`);
        assert.notEqual(refused.code, 0, name);
        assert.match(refused.stderr + refused.stdout, /certificate revoked/, name);
      }
      // The root CRL covers the new intermediate for its whole life.
      const rootCrl = new x509.X509Crl(f.ca.rootCrlPems[0]!);
      assert.ok(rootCrl.nextUpdate!.getTime() >= new x509.X509Certificate(f.ca.intermediateCertPem).notAfter.getTime());
    } finally { await f.cleanup(); }
  });

  it('renews a certificate of the previous intermediate into one of the new intermediate', async () => {
    const f = await caFixture();
    try {
      const before = await issue(f.ca);
      await caRotateIntermediateCommand(commandContext(f));
      await f.ca.reload();
      const csr = await generateKeyAndCsr(ID);
      const renewed = await f.ca.renew(csr.csrPem, before.certificatePem);
      assert.ok(renewed.chainPem.endsWith(f.ca.intermediateCertPem));
    } finally { await f.cleanup(); }
  });

  it('refuses with ERR_PKI_ROOT_KEY_OFFLINE naming --root-key when the root is offline; rotates with the exported key file and passphrase; refuses a key of another CA', async () => {
    const f = await caFixture();
    const dir = await scratch(); dirs.push(dir);
    try {
      const ctx = commandContext(f);
      await caExportRootCommand(ctx, { out: dir.path('root-key.pem'), passphrase: 'correct horse battery', remove: true });
      await assert.rejects(caRotateIntermediateCommand(ctx), (e: { code: string; publicMessage: string }) => {
        assert.equal(e.code, 'ERR_PKI_ROOT_KEY_OFFLINE');
        assert.match(e.publicMessage, /--root-key/);
        return true;
      });
      const { readFile } = await import('node:fs/promises');
      const rootKeyPem = await readFile(dir.path('root-key.pem'), 'utf8');
      await assert.rejects(caRotateIntermediateCommand(ctx, { rootKeyPem, passphrase: 'wrong passphrase!' }), { code: 'ERR_ADMIN_INPUT_INVALID' });
      const other = await caFixture();
      try {
        const otherDir = await scratch(); dirs.push(otherDir);
        await caExportRootCommand(commandContext(other), { out: otherDir.path('other-key.pem') });
        await assert.rejects(caRotateIntermediateCommand(ctx, { rootKeyPem: await readFile(otherDir.path('other-key.pem'), 'utf8') }), { code: 'ERR_ADMIN_INPUT_INVALID' });
      } finally { await other.cleanup(); }
      const before = f.ca.intermediateCertPem;
      const r = await caRotateIntermediateCommand(ctx, { rootKeyPem, passphrase: 'correct horse battery' });
      assert.equal(r.rootKey, 'file');
      const ca = await f.repo.getCa();
      assert.equal(ca?.rootKeySealed, null, 'the root key stays offline');
      assert.notEqual(ca?.intermediateCertPem, before);
      const issued = await issue(await openAuthority(ctx));
      const v = await verifyWithCrls(dir, await openAuthority(ctx), issued.certificatePem, 'offline-root');
      assert.equal(v.code, 0, v.stderr + v.stdout);
    } finally { await f.cleanup(); }
  });

  it('--retire-previous (attack: a leaked intermediate key): the replaced intermediate is revoked on the root\'s CRL and leaves the trust, its certificates fail wherever presented and cannot renew, and a later rotation keeps it revoked', async () => {
    const f = await caFixture();
    const dir = await scratch(); dirs.push(dir);
    try {
      const before = await issue(f.ca);
      const oldIntermediate = f.ca.intermediateCertPem;
      // What a relying party held before: the old intermediate's workload CRL (the leaf's own CRL stays checkable).
      const staleCrls = crlRecordPems(await f.ca.currentCrl());
      const r = await caRotateIntermediateCommand(commandContext(f), { retirePrevious: true });
      assert.deepEqual(r.retained, []);
      assert.deepEqual(r.retired, [r.previousSerial]);
      await f.ca.reload();
      assert.equal(f.ca.intermediatesPem, f.ca.intermediateCertPem, 'only the new intermediate is trusted');
      const rootCrl = new x509.X509Crl(f.ca.rootCrlPems[0]!);
      assert.deepEqual(rootCrl.entries.map((e) => e.serialNumber.replace(/^0+/, '').toLowerCase()), [r.previousSerial]);

      // The peer presents its chain (leaf + old intermediate): the root's signature on it holds, its CRL does not.
      const crlArgs = (await Promise.all([...staleCrls, ...crlRecordPems(await f.ca.currentCrl()), ...f.ca.rootCrlPems].map((pem, i) => dir.write(`retired-crl-${i}.pem`, pem)))).flatMap((p) => ['-CRLfile', p]);
      const v = await openssl(['verify', '-crl_check_all', '-CAfile', await dir.write('root.pem', f.ca.rootCertPem), '-untrusted', await dir.write('old-intermediate.pem', oldIntermediate), ...crlArgs, await dir.write('old-leaf.pem', before.certificatePem)]);
      assert.notEqual(v.code, 0, 'a certificate of the retired intermediate still verifies');
      assert.match(v.stderr + v.stdout, /certificate revoked/);
      const trust = await f.ca.currentTrust();
      assert.throws(() => verifyPeer(before.certificatePem, trust), { code: 'ERR_PKI_PEER_CERT_UNTRUSTED' });
      const csr = await generateKeyAndCsr(ID);
      await assert.rejects(f.ca.renew(csr.csrPem, before.certificatePem), { code: 'ERR_PKI_RENEWAL_UNAUTHORIZED' });
      const fresh = await issue(f.ca);
      const ok = await verifyWithCrls(dir, f.ca, fresh.certificatePem, 'after-retire');
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);

      // A later ordinary rotation re-signs the root's CRL: the revocation stays on it.
      await caRotateIntermediateCommand(commandContext(f));
      await f.ca.reload();
      const again = new x509.X509Crl(f.ca.rootCrlPems[0]!);
      assert.ok(again.entries.some((e) => e.serialNumber.replace(/^0+/, '').toLowerCase() === r.previousSerial), 'the retired intermediate was un-revoked');
      assert.ok(again.nextUpdate!.getTime() >= new x509.X509Certificate(oldIntermediate).notAfter.getTime(), 'the root\'s CRL lasts as long as the intermediate it revokes');
    } finally { await f.cleanup(); }
  });

  it('replaces a CRL that no intermediate rotated since has signed: the next read publishes one for every intermediate', async () => {
    const f = await caFixture();
    try {
      const first = await f.ca.currentCrl();
      // Rotated without the command's CRL (an instance publishing at that moment, a crash).
      await rotateIntermediate({ repo: f.repo, masterKey: f.masterKey, config: f.ca.config });
      const other = await CertificateAuthority.open({ repo: f.repo, masterKey: f.masterKey, config: f.ca.config, publicUrl: PUBLIC_URL });
      const next = await other.currentCrl();
      assert.equal(next.number, first.number + 1);
      assert.equal(next.previousDers.length, 1);
    } finally { await f.cleanup(); }
  });
});

function registerRunningInstance(backend: PkiBackend, skip: false | string): void {
  describe(`a running instance follows ca rotate-intermediate without restart (${backend.name})`, { skip }, () => {
    it('trusts the new intermediate, issues from it and accepts its certificates over mTLS after one CRL refresh', async () => {
      const r = await startRunningInstance(backend);
      try {
        await caRotateIntermediateCommand(r.cli);
        const fromNew = await issue(await openAuthority(r.cli));
        // Before the refresh the instance does not know the new intermediate: refused.
        await assert.rejects(r.get(fromNew, r.instance.rootCertPem));
        await r.watcher.refresh();
        assert.equal(r.trust().intermediates.length, 2);
        assert.equal(await r.get(fromNew, r.instance.rootCertPem), 200);
        assert.equal(await r.get(r.issuedBefore, r.instance.rootCertPem), 200, 'a certificate of the previous intermediate is still accepted');
        assert.equal(r.instance.intermediateCertPem, (await r.cli.repo.getCa())!.intermediateCertPem);
        const issuedThere = await issue(r.instance);
        assert.ok(issuedThere.chainPem.endsWith(r.instance.intermediateCertPem));
      } finally {
        await r.close();
      }
    });
  });
}

registerRunningInstance(sqliteBackend, false);
registerRunningInstance(postgresBackend, await serviceOrSkip('postgres'));
