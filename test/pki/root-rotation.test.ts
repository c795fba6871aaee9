/**
 * Rotating the root CA (`ca rotate-root`, then `--activate`), judged by openssl and by real
 * mutual TLS: after step 1 every relying party that refreshes its trust holds both roots while
 * nothing is issued under the new one; after step 2 new certificates chain to the new root,
 * certificates of the old chain keep verifying and renew into the new one, revocation reaches
 * both chains, and the old root's key is gone from the store. Running instances on the same
 * store follow without restart.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../src/pki/authority.ts';
import { buildVerifiedTrust } from '../../src/pki/client/verified-trust.ts';
import { caActivateRootCommand, caCancelRootCommand, caRotateIntermediateCommand, caRotateRootCommand, openAuthority, type PkiCommandContext } from '../../src/pki/commands/index.ts';
import { crlRecordPems } from '../../src/pki/crl-builder.ts';
import type { PkiEvent } from '../../src/pki/events.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { judgeRootExpiry } from '../../src/pki/root-expiry.ts';
import { x509 } from '../../src/pki/x509.ts';
import { serviceOrSkip } from '../support/services.ts';
import { postgresBackend, sqliteBackend, type PkiBackend } from './support/backends.ts';
import { caFixture, TRUST_DOMAIN, PUBLIC_URL, type CaFixture } from './support/ca-fixture.ts';
import { startRunningInstance } from './support/running-instance.ts';
import { openssl, scratch } from './support/openssl.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;
type Dir = Awaited<ReturnType<typeof scratch>>;

async function issue(ca: CertificateAuthority, spiffeId = ID) {
  const csr = await generateKeyAndCsr(spiffeId);
  return { ...(await ca.issue({ csr: csr.csrPem, spiffeId })), keyPem: csr.keyPem };
}

function commandContext(f: { repo: PkiCommandContext['repo']; masterKey: Uint8Array }, settings: Record<string, unknown> = {}): PkiCommandContext {
  return { repo: f.repo, config: pkiSchema.parse({ trustDomain: TRUST_DOMAIN, ...settings }), publicUrl: PUBLIC_URL, masterKey: f.masterKey };
}

/** What `GET <apiPath>/trust` answers (src/pki/http/pki-http-handler.ts), from the CA as it is now. */
async function trustAnswer(ca: CertificateAuthority) {
  const crl = await ca.currentCrl();
  return { trustDomain: ca.trustDomain, roots: ca.trustBundlePem, intermediates: ca.intermediatesPem, crls: [...crlRecordPems(crl), ...ca.rootCrlPems], crlNumber: crl.number };
}

/** openssl verify with `anchors` as the only trusted roots, every intermediate untrusted and every CRL checked. */
async function verifyWith(dir: Dir, ca: CertificateAuthority, anchors: string, certPem: string, name: string) {
  const crls = [...crlRecordPems(await ca.currentCrl()), ...ca.rootCrlPems];
  const crlArgs = (await Promise.all(crls.map((pem, i) => dir.write(`${name}-crl-${i}.pem`, pem)))).flatMap((p) => ['-CRLfile', p]);
  return openssl(['verify', '-x509_strict', '-crl_check_all', '-CAfile', await dir.write(`${name}-anchors.pem`, anchors),
    '-untrusted', await dir.write(`${name}-intermediates.pem`, ca.intermediatesPem), ...crlArgs, await dir.write(`${name}.pem`, certPem)]);
}

const roots = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new x509.X509Certificate(p));
const serialsOf = (pem: string) => roots(pem).map((c) => c.serialNumber.replace(/^0+/, '').toLowerCase());

describe('ca rotate-root', () => {
  const dirs: Dir[] = [];
  const fixtures: CaFixture[] = [];
  after(async () => {
    for (const d of dirs) await d.cleanup();
    for (const f of fixtures) await f.cleanup();
  });
  const setup = async () => {
    const f = await caFixture();
    fixtures.push(f);
    const dir = await scratch();
    dirs.push(dir);
    return { f, dir };
  };

  it('step 1 publishes a new root next to the current one (own name, own CRL, accepted by a workload) and issues nothing under it', async () => {
    const { f } = await setup();
    const oldRoot = f.ca.rootCertPem;
    const oldIntermediate = f.ca.intermediateCertPem;
    const events: PkiEvent[] = [];
    const r = await caRotateRootCommand({ ...commandContext(f), onEvent: (e) => events.push(e) });
    assert.deepEqual(events, [{ type: 'pki.ca.root_rotation_prepared', rootSerial: r.rootSerial, currentRootSerial: r.currentRootSerial, notAfter: r.rootNotAfter.toISOString(), keyAlgorithm: r.keyAlgorithm, currentKeyAlgorithm: r.currentKeyAlgorithm }]);
    assert.equal(await f.ca.reload(), true, 'a running CA sees the prepared root');
    assert.deepEqual(serialsOf(f.ca.trustBundlePem), [r.currentRootSerial, r.rootSerial]);
    assert.equal(f.ca.rootCertPem, oldRoot, 'the root in force is unchanged');
    assert.equal(f.ca.intermediateCertPem, oldIntermediate, 'the issuing intermediate is unchanged');
    const [current, next] = roots(f.ca.trustBundlePem);
    assert.notEqual(next!.subject, current!.subject, 'OpenSSL finds issuers and CRLs by name: the new root has its own');
    assert.equal(f.ca.rootCrlPems.length, 2, 'a CRL of each root');
    // A workload refuses trust material with a CA no CRL covers: this one is complete.
    const verified = await buildVerifiedTrust(await trustAnswer(f.ca), TRUST_DOMAIN);
    assert.equal(verified.trust.roots.length, 2);
    const issued = await issue(f.ca);
    assert.ok(issued.chainPem.endsWith(oldIntermediate), 'issued from the intermediate in force');
    assert.deepEqual(serialsOf(issued.trustBundlePem), [r.currentRootSerial, r.rootSerial], 'issuance hands out both roots');
    assert.match(r.trustBundlePem, new RegExp(oldRoot.trim().split('\n')[1]!.replace(/[+/]/g, '\\$&')));
  });

  it('refuses a second preparation (ERR_PKI_ROOT_ROTATION_PENDING), an activation with nothing prepared or before pki.rootRotationMinWaitSeconds (ERR_PKI_ROOT_ROTATION_NOT_READY, naming --force)', async () => {
    const { f } = await setup();
    const ctx = commandContext(f);
    await assert.rejects(caActivateRootCommand(ctx), (e: { code: string; publicMessage: string }) => {
      assert.equal(e.code, 'ERR_PKI_ROOT_ROTATION_NOT_READY');
      assert.match(e.publicMessage, /gatehouse ca rotate-root/);
      return true;
    });
    const r = await caRotateRootCommand(ctx);
    await assert.rejects(caRotateRootCommand(ctx), (e: { code: string; publicMessage: string }) => {
      assert.equal(e.code, 'ERR_PKI_ROOT_ROTATION_PENDING');
      assert.match(e.publicMessage, new RegExp(r.rootSerial));
      return true;
    });
    await assert.rejects(caActivateRootCommand(ctx), (e: { code: string; publicMessage: string }) => {
      assert.equal(e.code, 'ERR_PKI_ROOT_ROTATION_NOT_READY');
      assert.match(e.publicMessage, /--force/);
      return true;
    });
    assert.equal((await f.repo.getCa())?.rootCertPem, f.ca.rootCertPem, 'nothing changed');
    // Once the wait is over no --force is needed.
    const waited = await caActivateRootCommand(commandContext(f, { rootRotationMinWaitSeconds: 0 }));
    assert.equal(waited.rootSerial, r.rootSerial);
  });

  it('withdraws a prepared root with --cancel: no longer in the bundle or the CRLs, its key gone, activation refused; a new rotation can be prepared', async () => {
    const { f } = await setup();
    const ctx = commandContext(f, { rootRotationMinWaitSeconds: 0 });
    await assert.rejects(caCancelRootCommand(ctx), { code: 'ERR_PKI_ROOT_ROTATION_NOT_READY' });
    const prepared = await caRotateRootCommand(ctx);
    await f.ca.reload();
    assert.equal(roots(f.ca.trustBundlePem).length, 2);
    const events: PkiEvent[] = [];
    assert.deepEqual(await caCancelRootCommand({ ...ctx, onEvent: (e) => events.push(e) }), { rootSerial: prepared.rootSerial });
    assert.deepEqual(events, [{ type: 'pki.ca.root_rotation_cancelled', rootSerial: prepared.rootSerial }]);
    assert.equal(await f.ca.reload(), true, 'a running CA sees the withdrawal');
    assert.deepEqual(serialsOf(f.ca.trustBundlePem), [prepared.currentRootSerial]);
    assert.equal(f.ca.rootCrlPems.length, 1);
    assert.equal((await f.repo.getCa())?.pendingRoot, null, 'the prepared root and its sealed key are gone');
    await assert.rejects(caActivateRootCommand(ctx), { code: 'ERR_PKI_ROOT_ROTATION_NOT_READY' });
    const again = await caRotateRootCommand(ctx);
    assert.notEqual(again.rootSerial, prepared.rootSerial);
  });

  it('step 2 issues under the new root; certificates of the old chain still verify (both roots trusted, every CRL checked by openssl), renew into the new chain, and both chains can be revoked', async () => {
    const { f, dir } = await setup();
    const ctx = commandContext(f);
    const before = await issue(f.ca);
    const oldRoot = f.ca.rootCertPem;
    const oldRootKeySealed = (await f.repo.getCa())!.rootKeySealed;
    const prepared = await caRotateRootCommand(ctx);
    const events: PkiEvent[] = [];
    const r = await caActivateRootCommand({ ...ctx, onEvent: (e) => events.push(e) }, { force: true });
    assert.deepEqual(events.filter((e) => e.type === 'pki.ca.root_rotated'), [{ type: 'pki.ca.root_rotated', rootSerial: prepared.rootSerial, previousRootSerial: prepared.currentRootSerial, intermediateSerial: prepared.intermediateSerial }]);
    assert.equal(await f.ca.reload(), true);
    assert.equal(f.ca.root.serial, prepared.rootSerial);
    assert.equal(f.ca.issuingIntermediate.serial, prepared.intermediateSerial);
    assert.deepEqual(r.retainedRoots.map((x) => x.serial), [prepared.currentRootSerial]);
    assert.equal(r.previousRootKeyDropped, true);
    const stored = (await f.repo.getCa())!;
    assert.notEqual(stored.rootKeySealed, oldRootKeySealed, 'the old root key is gone from the store');
    assert.deepEqual(Object.keys(stored.previousRoots[0]!).sort(), ['certPem', 'crlPem'], 'a previous root is kept without a key');
    assert.deepEqual(serialsOf(f.ca.trustBundlePem), [prepared.rootSerial, prepared.currentRootSerial]);

    const afterRotation = await issue(f.ca);
    assert.ok(afterRotation.chainPem.endsWith(f.ca.intermediateCertPem));
    // The new chain verifies against the new root alone; the old root alone refuses it (why step 1 comes first).
    const newOnly = await verifyWith(dir, f.ca, f.ca.rootCertPem, afterRotation.certificatePem, 'new-on-new');
    assert.equal(newOnly.code, 0, newOnly.stderr + newOnly.stdout);
    const oldOnly = await verifyWith(dir, f.ca, oldRoot, afterRotation.certificatePem, 'new-on-old');
    assert.notEqual(oldOnly.code, 0, 'a relying party that never got the new root cannot verify the new chain');
    for (const [name, cert] of [['old', before], ['new', afterRotation]] as const) {
      const ok = await verifyWith(dir, f.ca, f.ca.trustBundlePem, cert.certificatePem, `${name}-bundle`);
      assert.equal(ok.code, 0, `${name}: ${ok.stderr}${ok.stdout}`);
    }
    // Renewal takes a certificate of the old chain and gives one of the new.
    const csr = await generateKeyAndCsr(ID);
    const renewed = await f.ca.renew(csr.csrPem, before.certificatePem);
    assert.ok(renewed.chainPem.endsWith(f.ca.intermediateCertPem));
    // Revocation reaches both chains, each on its issuer's CRL.
    await f.ca.revoke({ serial: before.serial }, 'keyCompromise');
    await f.ca.revoke({ serial: afterRotation.serial }, 'keyCompromise');
    for (const [name, cert] of [['old', before], ['new', afterRotation]] as const) {
      const refused = await verifyWith(dir, f.ca, f.ca.trustBundlePem, cert.certificatePem, `${name}-revoked`);
      assert.notEqual(refused.code, 0, name);
      assert.match(refused.stderr + refused.stdout, /certificate revoked/, name);
    }
    // The workload view after activation is complete too (a CRL for each root and intermediate).
    const verified = await buildVerifiedTrust(await trustAnswer(f.ca), TRUST_DOMAIN);
    assert.equal(verified.trust.roots.length, 2);
    // Expiry warnings now judge the new root.
    const expiry = judgeRootExpiry(f.ca.root, new Date(), 90);
    assert.equal(expiry.serial, prepared.rootSerial);
    assert.equal(expiry.state, 'ok');
  });

  it('--activate --retire-previous (attack: a leaked root key): the old root and its intermediates leave the trust at once; certificates of the old chain fail verification and cannot renew', async () => {
    const { f, dir } = await setup();
    const ctx = commandContext(f);
    const before = await issue(f.ca);
    const oldRoot = f.ca.rootCertPem;
    await caRotateRootCommand(ctx);
    const r = await caActivateRootCommand(ctx, { force: true, retirePrevious: true });
    assert.deepEqual(r.retainedRoots, []);
    await f.ca.reload();
    assert.equal(roots(f.ca.trustBundlePem).length, 1, 'only the new root is trusted');
    assert.equal(f.ca.intermediatesPem, f.ca.intermediateCertPem, 'only the new intermediate is trusted');
    assert.deepEqual((await f.repo.getCa())!.previousIntermediates, [], 'the old intermediates\' keys are gone from the store');
    const v = await verifyWith(dir, f.ca, f.ca.trustBundlePem, before.certificatePem, 'retired-old');
    assert.notEqual(v.code, 0, 'a certificate of the retired root still verifies');
    assert.ok(!f.ca.trustBundlePem.includes(oldRoot.trim().split('\n')[1]!));
    const csr = await generateKeyAndCsr(ID);
    await assert.rejects(f.ca.renew(csr.csrPem, before.certificatePem), { code: 'ERR_PKI_RENEWAL_UNAUTHORIZED' });
    const fresh = await issue(f.ca);
    const ok = await verifyWith(dir, f.ca, f.ca.trustBundlePem, fresh.certificatePem, 'retired-new');
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  });

  it('rotate-intermediate --retire-previous after a root rotation takes the replaced root\'s intermediates out, and that root with them (attack: a leaked key of an old-root intermediate)', async () => {
    const { f, dir } = await setup();
    const before = await issue(f.ca);
    const staleCrls = crlRecordPems(await f.ca.currentCrl());
    const oldIntermediate = f.ca.intermediateCertPem;
    const ctx = commandContext(f);
    await caRotateRootCommand(ctx);
    await caActivateRootCommand(ctx, { force: true });
    const r = await caRotateIntermediateCommand(ctx, { retirePrevious: true });
    assert.equal(r.retired.length, 2, 'the new root\'s first intermediate and the old root\'s');
    await f.ca.reload();
    assert.equal(roots(f.ca.trustBundlePem).length, 1, 'the old root left with its last intermediate');
    // The peer presents leaf + old intermediate; a relying party that refreshed has only the new root.
    const crlArgs = (await Promise.all([...staleCrls, ...crlRecordPems(await f.ca.currentCrl()), ...f.ca.rootCrlPems].map((pem, i) => dir.write(`old-root-retired-crl-${i}.pem`, pem)))).flatMap((p) => ['-CRLfile', p]);
    const v = await openssl(['verify', '-crl_check_all', '-CAfile', await dir.write('old-root-retired-bundle.pem', f.ca.trustBundlePem), '-untrusted', await dir.write('old-root-int.pem', oldIntermediate), ...crlArgs, await dir.write('old-root-leaf.pem', before.certificatePem)]);
    assert.notEqual(v.code, 0, 'a certificate of a retired old-root intermediate still verifies');
  });

  it('drops a replaced root once no intermediate it signed is trusted any more', async () => {
    const { f } = await setup();
    // The new intermediate outlives the old one, as it would a rotation later in the old one's life.
    const ctx = commandContext(f, { rootRotationMinWaitSeconds: 0, intermediateLifetimeDays: 400 });
    await caRotateRootCommand(ctx);
    await caActivateRootCommand(ctx);
    await f.ca.reload();
    assert.equal(roots(f.ca.trustBundlePem).length, 2);
    // Past the old intermediate's end (it ended no later than a year from now), only the new root is left.
    const oldIntermediateEnd = new x509.X509Certificate((await f.repo.getCa())!.previousIntermediates[0]!.certPem).notAfter;
    f.setNow(new Date(oldIntermediateEnd.getTime() + 60_000));
    const later = await CertificateAuthority.open({ repo: f.repo, masterKey: f.masterKey, config: f.ca.config, publicUrl: PUBLIC_URL, clock: () => new Date(oldIntermediateEnd.getTime() + 60_000) });
    assert.equal(roots(later.trustBundlePem).length, 1);
    assert.equal(later.rootCrlPems.length, 1);
    assert.equal(later.root.serial, f.ca.root.serial);
  });
});

function registerRunningInstance(backend: PkiBackend, skip: false | string): void {
  describe(`a running instance follows ca rotate-root without restart (${backend.name})`, { skip }, () => {
    it('trusts the prepared root at its next refresh, then accepts certificates of both chains over mTLS and issues from the new one after activation', async () => {
      const r = await startRunningInstance(backend);
      try {
        await caRotateRootCommand(r.cli);
        await r.watcher.refresh();
        assert.equal(r.trust().roots.length, 2, 'the instance trusts the prepared root after one refresh');
        await caActivateRootCommand(r.cli, { force: true });
        const fromNew = await issue(await openAuthority(r.cli));
        // Before its refresh the instance does not know the new intermediate: refused, as for an intermediate rotation.
        await assert.rejects(r.get(fromNew, r.instance.trustBundlePem));
        await r.watcher.refresh();
        assert.equal(await r.get(fromNew, r.instance.trustBundlePem), 200, 'a certificate of the new root is accepted');
        assert.equal(await r.get(r.issuedBefore, r.instance.trustBundlePem), 200, 'a certificate of the old root is still accepted');
        assert.equal(r.instance.root.serial, (await openAuthority(r.cli)).root.serial);
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
