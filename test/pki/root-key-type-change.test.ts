/**
 * `ca rotate-root --key-type ECDSA-P384` on a P-256 CA, judged by openssl: after activation a
 * new leaf chains to the new P-384 root through a P-384 intermediate (signed with
 * ecdsa-with-SHA384), leaves issued before still verify with the two-root bundle during the
 * overlap, each intermediate signs its CRL with its own key type, an instance opened on the store
 * afterwards (keys of both types in the record) does the same, and the next intermediate follows
 * the new root's key type. On memory and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../src/pki/authority.ts';
import { caActivateRootCommand, caRotateIntermediateCommand, caRotateRootCommand, caStatusCommand, type PkiCommandContext } from '../../src/pki/commands/index.ts';
import { crlRecordPems } from '../../src/pki/crl-builder.ts';
import type { PkiEvent } from '../../src/pki/events.ts';
import { serviceOrSkip } from '../support/services.ts';
import { memoryBackend, postgresBackend, type PkiBackend } from './support/backends.ts';
import { caFixture, PUBLIC_URL, TRUST_DOMAIN } from './support/ca-fixture.ts';
import { issueFrom } from './support/running-instance.ts';
import { mustOpenssl, openssl, scratch } from './support/openssl.ts';

type Dir = Awaited<ReturnType<typeof scratch>>;

const certificates = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

/** openssl verify with `anchors` as the only trusted roots, every intermediate untrusted and every CRL checked. */
async function verifyWith(dir: Dir, ca: CertificateAuthority, anchors: string, certPem: string, name: string) {
  const crls = [...crlRecordPems(await ca.currentCrl()), ...ca.rootCrlPems];
  const crlArgs = (await Promise.all(crls.map((pem, i) => dir.write(`${name}-crl-${i}.pem`, pem)))).flatMap((p) => ['-CRLfile', p]);
  return openssl(['verify', '-x509_strict', '-crl_check_all', '-CAfile', await dir.write(`${name}-anchors.pem`, anchors),
    '-untrusted', await dir.write(`${name}-intermediates.pem`, ca.intermediatesPem), ...crlArgs, await dir.write(`${name}.pem`, certPem)]);
}

/** What openssl says of a certificate's key curve and signature algorithm. */
async function described(dir: Dir, pem: string, name: string): Promise<{ curve: string | undefined; signature: string | undefined }> {
  const text = await mustOpenssl(['x509', '-noout', '-text', '-in', await dir.write(`${name}.pem`, pem)]);
  return { curve: /NIST CURVE: (P-\d+)/.exec(text)?.[1], signature: /Signature Algorithm: (\S+)/.exec(text)?.[1] };
}

function keyTypeSuite(backend: PkiBackend, skip: false | string) {
  describe(`ca rotate-root --key-type on ${backend.name}`, { skip }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => { for (const c of cleanups.reverse()) await c(); });

    it('moves a P-256 CA to P-384: a leaf issued after activation chains to the new P-384 root, leaves from before still verify with the two-root bundle, and the next intermediate is P-384', async () => {
      const created = await backend.create();
      cleanups.push(created.close);
      const f = await caFixture({ repo: created.repo });
      cleanups.push(f.cleanup);
      const dir = await scratch();
      cleanups.push(dir.cleanup);
      const events: PkiEvent[] = [];
      const ctx: PkiCommandContext = { repo: f.repo, config: pkiSchema.parse({ trustDomain: TRUST_DOMAIN }), publicUrl: PUBLIC_URL, masterKey: f.masterKey, onEvent: (e) => events.push(e) };
      const oldRoot = f.ca.rootCertPem;
      assert.equal((await described(dir, oldRoot, 'old-root')).curve, 'P-256');
      const before = await issueFrom(f.ca);

      const prepared = await caRotateRootCommand(ctx, { keyType: 'ECDSA-P384' });
      assert.equal(prepared.keyAlgorithm, 'ECDSA-P384');
      assert.equal(prepared.currentKeyAlgorithm, 'ECDSA-P256');
      const announced = events.find((e) => e.type === 'pki.ca.root_rotation_prepared');
      assert.deepEqual(announced && { keyAlgorithm: announced.keyAlgorithm, currentKeyAlgorithm: announced.currentKeyAlgorithm }, { keyAlgorithm: 'ECDSA-P384', currentKeyAlgorithm: 'ECDSA-P256' }, 'the audit event names the change of key type');
      const pending = (await caStatusCommand(ctx)).pendingRoot!;
      assert.deepEqual([pending.keyAlgorithm, pending.intermediate.keyAlgorithm], ['ECDSA-P384', 'ECDSA-P384']);
      const activated = await caActivateRootCommand(ctx, { force: true });
      assert.equal(activated.keyAlgorithm, 'ECDSA-P384');
      assert.equal(await f.ca.reload(), true);
      const newRoot = f.ca.rootCertPem;
      assert.notEqual(newRoot, oldRoot);
      const status = await caStatusCommand(ctx);
      assert.equal(status.keyAlgorithm, 'ECDSA-P384', 'the CA record names the new root\'s key type');
      assert.equal(status.previousIntermediates[0]?.keyAlgorithm, 'ECDSA-P256');

      const afterLeaf = await issueFrom(f.ca);
      const newRootText = await described(dir, newRoot, 'new-root');
      assert.deepEqual(newRootText, { curve: 'P-384', signature: 'ecdsa-with-SHA384' });
      assert.deepEqual(await described(dir, f.ca.intermediateCertPem, 'new-intermediate'), { curve: 'P-384', signature: 'ecdsa-with-SHA384' });
      assert.equal((await described(dir, afterLeaf.certificatePem, 'after-leaf')).signature, 'ecdsa-with-SHA384', 'signed by the P-384 intermediate');
      assert.equal((await described(dir, before.certificatePem, 'before-leaf')).signature, 'ecdsa-with-SHA256');

      // The bundle every relying party holds during the overlap: both roots.
      const bundle = f.ca.trustBundlePem;
      assert.deepEqual(certificates(bundle).map((c) => c.trim()), [newRoot.trim(), oldRoot.trim()]);
      for (const [name, leaf] of [['after', afterLeaf], ['before', before]] as const) {
        const r = await verifyWith(dir, f.ca, bundle, leaf.certificatePem, `bundle-${name}`);
        assert.equal(r.code, 0, `${name}: ${r.stderr}${r.stdout}`);
      }
      // The new leaf is the new root's, not the old one's.
      assert.equal((await verifyWith(dir, f.ca, newRoot, afterLeaf.certificatePem, 'new-only')).code, 0);
      assert.notEqual((await verifyWith(dir, f.ca, oldRoot, afterLeaf.certificatePem, 'old-only')).code, 0);

      // An instance opened now holds keys of both types (the P-256 intermediate signs its CRL still).
      const instance = await CertificateAuthority.open({ repo: await created.another(), masterKey: f.masterKey, config: ctx.config, publicUrl: PUBLIC_URL });
      const published = await instance.publishCrl();
      const [issuingCrl, previousCrl] = crlRecordPems(published);
      const crlSignature = async (pem: string, name: string) => /Signature Algorithm: (\S+)/.exec(await mustOpenssl(['crl', '-noout', '-text', '-in', await dir.write(`${name}.pem`, pem)]))?.[1];
      assert.equal(await crlSignature(issuingCrl!, 'crl-issuing'), 'ecdsa-with-SHA384');
      assert.equal(await crlSignature(previousCrl!, 'crl-previous'), 'ecdsa-with-SHA256');
      const fromInstance = await issueFrom(instance);
      assert.equal((await verifyWith(dir, instance, bundle, fromInstance.certificatePem, 'instance-after')).code, 0);
      assert.equal((await verifyWith(dir, instance, bundle, before.certificatePem, 'instance-before')).code, 0);

      // The intermediate rotated next follows the root in force.
      const rotated = await caRotateIntermediateCommand(ctx);
      assert.equal(await f.ca.reload(), true);
      assert.equal(f.ca.issuingIntermediate.serial, rotated.intermediateSerial);
      assert.equal((await described(dir, f.ca.intermediateCertPem, 'rotated-intermediate')).curve, 'P-384');
      const latest = await issueFrom(f.ca);
      assert.equal((await verifyWith(dir, f.ca, f.ca.trustBundlePem, latest.certificatePem, 'latest')).code, 0);
    });
  });
}

keyTypeSuite(memoryBackend, false);
keyTypeSuite(postgresBackend, await serviceOrSkip('postgres'));
