/**
 * One contract for every PkiRepository backend (memory, SQLite, PostgreSQL).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CertificateRecord, PkiRepository } from '../../src/pki/repository.ts';
import type { PkiBackend } from './support/backends.ts';

const HOUR = 3_600_000;

function cert(serial: string, spiffeId: string, notAfter: Date, createdAt = new Date()): CertificateRecord {
  return {
    serial, spiffeId, dnsNames: ['a.internal'], ipAddresses: ['10.0.0.1'], notBefore: new Date(createdAt.getTime() - 60_000), notAfter,
    certPem: `-----BEGIN CERTIFICATE-----\n${serial}\n-----END CERTIFICATE-----\n`, issuedVia: 'internal', createdAt, revokedAt: null, revocationReason: null,
  };
}

export function registerPkiRepositoryContract(backend: PkiBackend, skip: false | string = false): void {
  describe(`PKI repository contract (${backend.name})`, { skip }, () => {
    let repo: PkiRepository;
    let another: () => Promise<PkiRepository>;
    let close: () => Promise<void>;
    before(async () => { ({ repo, another, close } = await backend.create()); });
    after(async () => { await close?.(); });

    it('stores the CA once and refuses a second one (ERR_PKI_ALREADY_INITIALIZED)', async () => {
      assert.equal(await repo.getCa(), undefined);
      const ca = { keyAlgorithm: 'ECDSA-P256' as const, rootCertPem: 'R', rootKeySealed: '{"sealed":1}', intermediateCertPem: 'I', intermediateKeySealed: '{"sealed":2}', rootCrlPem: 'C', createdAt: new Date(1_700_000_000_000), previousIntermediates: [], pendingRoot: null, previousRoots: [] };
      await repo.insertCa(ca);
      await assert.rejects(repo.insertCa({ ...ca, rootCertPem: 'evil' }), { code: 'ERR_PKI_ALREADY_INITIALIZED' });
      assert.deepEqual(await repo.getCa(), ca);
      await repo.dropRootKey();
      assert.equal((await repo.getCa())?.rootKeySealed, null);
      assert.equal((await repo.getCa())?.intermediateKeySealed, '{"sealed":2}');
    });

    it('rotates the intermediate only over the one expected: of two rotations racing, exactly one is stored', async () => {
      const rotation = (name: string) => ({
        expectedIntermediateCertPem: 'I', intermediateCertPem: name, intermediateKeySealed: `{"sealed":"${name}"}`,
        previousIntermediates: [{ certPem: 'I', keySealed: '{"sealed":2}' }], rootCrlPem: `C-${name}`,
      });
      const other = await another();
      const results = await Promise.all([repo.rotateIntermediate(rotation('I2')), other.rotateIntermediate(rotation('I3'))]);
      assert.deepEqual(results.filter(Boolean).length, 1);
      const winner = results[0] ? 'I2' : 'I3';
      const ca = await other.getCa();
      assert.equal(ca?.intermediateCertPem, winner);
      assert.equal(ca?.intermediateKeySealed, `{"sealed":"${winner}"}`);
      assert.equal(ca?.rootCrlPem, `C-${winner}`);
      assert.deepEqual(ca?.previousIntermediates, [{ certPem: 'I', keySealed: '{"sealed":2}' }]);
      assert.equal(ca?.rootKeySealed, null, 'the root key stays offline');
    });

    it('prepares one pending root at a time over the expected root, and activates it only once (two racing: exactly one)', async () => {
      const current = (await repo.getCa())!;
      const pending = (name: string) => ({
        rootCertPem: `R-${name}`, rootKeySealed: `{"sealed":"r-${name}"}`, rootCrlPem: `RC-${name}`,
        intermediateCertPem: `I-${name}`, intermediateKeySealed: `{"sealed":"i-${name}"}`, preparedAt: new Date(1_700_000_100_000),
      });
      assert.equal(await repo.prepareRoot({ expectedRootCertPem: 'not-the-root', pendingRoot: pending('x') }), false, 'a root other than the one in force');
      const other = await another();
      const prepared = await Promise.all([repo.prepareRoot({ expectedRootCertPem: current.rootCertPem, pendingRoot: pending('a') }), other.prepareRoot({ expectedRootCertPem: current.rootCertPem, pendingRoot: pending('b') })]);
      assert.equal(prepared.filter(Boolean).length, 1, 'one pending root at a time');
      const name = prepared[0] ? 'a' : 'b';
      assert.deepEqual((await other.getCa())?.pendingRoot, pending(name));
      assert.equal((await other.getCa())?.rootCertPem, current.rootCertPem, 'preparing changes nothing in force');

      const activation = (previousRoots: { certPem: string; crlPem: string }[]) => ({
        expectedPendingRootCertPem: `R-${name}`, expectedIntermediateCertPem: current.intermediateCertPem,
        previousIntermediates: [{ certPem: current.intermediateCertPem, keySealed: current.intermediateKeySealed }], previousRoots, keyAlgorithm: 'ECDSA-P256' as const,
      });
      assert.equal(await repo.activateRoot({ ...activation([]), expectedPendingRootCertPem: 'R-other' }), false, 'another pending root');
      assert.equal(await repo.activateRoot({ ...activation([]), expectedIntermediateCertPem: 'I-other' }), false, 'the issuing intermediate moved meanwhile');
      const activated = await Promise.all([repo.activateRoot(activation([{ certPem: current.rootCertPem, crlPem: current.rootCrlPem }])), other.activateRoot(activation([{ certPem: 'late', crlPem: 'late' }]))]);
      assert.equal(activated.filter(Boolean).length, 1, 'activated once');
      const ca = await other.getCa();
      assert.equal(ca?.pendingRoot, null);
      assert.equal(ca?.rootCertPem, `R-${name}`);
      assert.equal(ca?.rootKeySealed, `{"sealed":"r-${name}"}`);
      assert.equal(ca?.rootCrlPem, `RC-${name}`);
      assert.equal(ca?.intermediateCertPem, `I-${name}`);
      assert.equal(ca?.intermediateKeySealed, `{"sealed":"i-${name}"}`);
      assert.deepEqual(ca?.previousIntermediates, [{ certPem: current.intermediateCertPem, keySealed: current.intermediateKeySealed }]);
      assert.deepEqual(ca?.previousRoots, [activated[0] ? { certPem: current.rootCertPem, crlPem: current.rootCrlPem } : { certPem: 'late', crlPem: 'late' }]);
      assert.equal(await repo.activateRoot(activation([])), false, 'nothing pending any more');

      // A pending root can be withdrawn, once, and only by naming it.
      assert.equal(await repo.prepareRoot({ expectedRootCertPem: `R-${name}`, pendingRoot: pending('c') }), true);
      assert.equal(await repo.cancelRoot('R-other'), false);
      const cancelled = await Promise.all([repo.cancelRoot('R-c'), other.cancelRoot('R-c')]);
      assert.equal(cancelled.filter(Boolean).length, 1);
      assert.equal((await other.getCa())?.pendingRoot, null);
      assert.equal((await other.getCa())?.rootCertPem, `R-${name}`, 'the root in force stays');
    });

    it('makes the key type of an activated root the CA\'s (ca rotate-root --key-type), read alike by another instance', async () => {
      const current = (await repo.getCa())!;
      assert.equal(current.keyAlgorithm, 'ECDSA-P256');
      const pendingRoot = {
        rootCertPem: 'R-p384', rootKeySealed: '{"sealed":"r-p384"}', rootCrlPem: 'RC-p384',
        intermediateCertPem: 'I-p384', intermediateKeySealed: '{"sealed":"i-p384"}', preparedAt: new Date(1_700_000_200_000),
      };
      assert.equal(await repo.prepareRoot({ expectedRootCertPem: current.rootCertPem, pendingRoot }), true);
      assert.equal((await repo.getCa())?.keyAlgorithm, 'ECDSA-P256', 'preparing does not change the key type in force');
      assert.equal(await repo.activateRoot({
        expectedPendingRootCertPem: 'R-p384', expectedIntermediateCertPem: current.intermediateCertPem,
        previousIntermediates: [{ certPem: current.intermediateCertPem, keySealed: current.intermediateKeySealed }], previousRoots: [], keyAlgorithm: 'ECDSA-P384',
      }), true);
      const ca = await (await another()).getCa();
      assert.equal(ca?.keyAlgorithm, 'ECDSA-P384');
      assert.equal(ca?.rootCertPem, 'R-p384');
    });

    it('stores, finds and lists certificates, newest first, and filters live ones', async () => {
      const now = new Date();
      await repo.insertCertificate(cert('a1', 'spiffe://td/svc/a', new Date(now.getTime() + HOUR), new Date(now.getTime() - 2000)));
      await repo.insertCertificate(cert('a2', 'spiffe://td/svc/a', new Date(now.getTime() + HOUR), new Date(now.getTime() - 1000)));
      await repo.insertCertificate(cert('a0', 'spiffe://td/svc/a', new Date(now.getTime() - 1000), new Date(now.getTime() - HOUR * 2)));
      await repo.insertCertificate(cert('b1', 'spiffe://td/svc/b', new Date(now.getTime() + HOUR)));
      await assert.rejects(repo.insertCertificate(cert('a1', 'spiffe://td/svc/x', new Date())), { code: 'ERR_STORE_CONFLICT' });
      const a1 = await repo.getCertificate('a1');
      assert.equal(a1?.spiffeId, 'spiffe://td/svc/a');
      assert.deepEqual(a1?.dnsNames, ['a.internal']);
      assert.deepEqual((await repo.listCertificates({ spiffeId: 'spiffe://td/svc/a' })).map((c) => c.serial), ['a2', 'a1', 'a0']);
      assert.deepEqual((await repo.listCertificates({ spiffeId: 'spiffe://td/svc/a', liveAt: now })).map((c) => c.serial), ['a2', 'a1']);
      assert.equal((await repo.listCertificates({ limit: 1 })).length, 1);
    });

    it('revokes by serial and by SPIFFE id (live ones only), once', async () => {
      const at = new Date();
      assert.deepEqual(await repo.revoke({ serial: 'b1' }, at, 'keyCompromise'), ['b1']);
      assert.deepEqual(await repo.revoke({ serial: 'b1' }, at, 'keyCompromise'), []);
      assert.deepEqual((await repo.revoke({ spiffeId: 'spiffe://td/svc/a' }, at, 'cessationOfOperation')).sort(), ['a1', 'a2']);
      const b1 = await repo.getCertificate('b1');
      assert.equal(b1?.revocationReason, 'keyCompromise');
      assert.equal(b1?.revokedAt?.getTime(), at.getTime());
      const revoked = await repo.listRevoked(at);
      assert.deepEqual(revoked.map((r) => r.serial).sort(), ['a1', 'a2', 'b1']);
      // Expired certificates leave the CRL.
      assert.deepEqual(await repo.listRevoked(new Date(at.getTime() + 2 * HOUR)), []);
    });

    it('numbers CRLs uniquely: a second CRL with a taken number is not stored', async () => {
      assert.equal(await repo.latestCrl(), undefined);
      const base = { thisUpdate: new Date(1000), nextUpdate: new Date(2000) };
      assert.equal(await repo.insertCrl({ number: 1, ...base, der: new Uint8Array([1, 2, 3]), previousDers: [] }), true);
      assert.equal(await repo.insertCrl({ number: 1, ...base, der: new Uint8Array([9]), previousDers: [] }), false);
      assert.equal(await repo.insertCrl({ number: 2, ...base, der: new Uint8Array([4, 5]), previousDers: [new Uint8Array([6]), new Uint8Array([7, 8])] }), true);
      const latest = await repo.latestCrl();
      assert.equal(latest?.number, 2);
      assert.deepEqual([...latest!.der], [4, 5]);
      assert.deepEqual(latest!.previousDers.map((d) => [...d]), [[6], [7, 8]]);
    });

    it('consumes a bootstrap token exactly once, even when two instances race for it', async () => {
      const now = new Date();
      const record = { id: 'tok1', tokenHash: 'h'.repeat(64), spiffeId: 'spiffe://td/svc/a', dnsNames: ['a.internal'], ipAddresses: [], createdAt: now, expiresAt: new Date(now.getTime() + HOUR), usedAt: null };
      await repo.insertBootstrapToken(record);
      const other = await another();
      const results = await Promise.all([repo.consumeBootstrapToken(record.tokenHash, now), other.consumeBootstrapToken(record.tokenHash, now), repo.consumeBootstrapToken(record.tokenHash, now)]);
      assert.equal(results.filter(Boolean).length, 1);
      const won = results.find(Boolean)!;
      assert.equal(won.spiffeId, 'spiffe://td/svc/a');
      assert.deepEqual(won.dnsNames, ['a.internal']);
      assert.equal(await repo.consumeBootstrapToken(record.tokenHash, now), undefined);
    });

    it('finds an unused, unexpired bootstrap token without spending it, and no used, expired or unknown one', async () => {
      const now = new Date();
      const record = { id: 'tok3', tokenHash: 'f'.repeat(64), spiffeId: 'spiffe://td/svc/b', dnsNames: ['b.internal'], ipAddresses: [], createdAt: now, expiresAt: new Date(now.getTime() + HOUR), usedAt: null };
      await repo.insertBootstrapToken(record);
      assert.equal((await repo.findBootstrapToken(record.tokenHash, now))?.spiffeId, 'spiffe://td/svc/b');
      assert.equal((await repo.findBootstrapToken(record.tokenHash, now))?.usedAt, null, 'still unused');
      assert.equal((await repo.findBootstrapToken(record.tokenHash, new Date(now.getTime() + HOUR))), undefined, 'expired');
      assert.equal((await repo.findBootstrapToken('1'.repeat(64), now)), undefined, 'unknown');
      assert.ok(await repo.consumeBootstrapToken(record.tokenHash, now), 'finding did not spend it');
      assert.equal(await repo.findBootstrapToken(record.tokenHash, now), undefined, 'used');
    });

    it('revokes an unused bootstrap token by id so that it can be neither found nor consumed; leaves a used one; lists both before', async () => {
      const now = new Date();
      const token = (id: string, hash: string, spiffeId: string, at = now) => ({ id, tokenHash: hash.repeat(64), spiffeId, dnsNames: [], ipAddresses: [], createdAt: at, expiresAt: new Date(now.getTime() + HOUR), usedAt: null });
      const unused = token('rv-unused', '2', 'spiffe://td/svc/rv');
      const used = token('rv-used', '3', 'spiffe://td/svc/rv', new Date(now.getTime() + 1000));
      await repo.insertBootstrapToken(unused);
      await repo.insertBootstrapToken(used);
      assert.ok(await repo.consumeBootstrapToken(used.tokenHash, now));
      assert.deepEqual((await repo.listBootstrapTokens({ spiffeId: 'spiffe://td/svc/rv' })).map((t) => [t.id, t.usedAt !== null]), [['rv-used', true], ['rv-unused', false]]);
      assert.deepEqual((await repo.revokeBootstrapTokens({ id: 'rv-used' })).map((t) => t.id), [], 'a used token is left');
      assert.deepEqual((await repo.revokeBootstrapTokens({ id: 'rv-unused' })).map((t) => t.id), ['rv-unused']);
      assert.equal(await repo.findBootstrapToken(unused.tokenHash, now), undefined);
      assert.equal(await repo.consumeBootstrapToken(unused.tokenHash, now), undefined);
      assert.deepEqual((await repo.revokeBootstrapTokens({ id: 'rv-unused' })).map((t) => t.id), [], 'once');
      assert.deepEqual((await repo.listBootstrapTokens({ id: 'rv-used' })).map((t) => t.id), ['rv-used']);
    });

    it('revokes every unused bootstrap token of a SPIFFE id and no other identity\'s; of a revocation and a consumption racing, exactly one wins', async () => {
      const now = new Date();
      const token = (id: string, hash: string, spiffeId: string) => ({ id, tokenHash: hash.repeat(64), spiffeId, dnsNames: [], ipAddresses: [], createdAt: now, expiresAt: new Date(now.getTime() + HOUR), usedAt: null });
      await repo.insertBootstrapToken(token('ri-1', '4', 'spiffe://td/svc/ri'));
      await repo.insertBootstrapToken(token('ri-2', '5', 'spiffe://td/svc/ri'));
      await repo.insertBootstrapToken(token('ri-other', '6', 'spiffe://td/svc/other'));
      const other = await another();
      const [revoked, consumed] = await Promise.all([repo.revokeBootstrapTokens({ spiffeId: 'spiffe://td/svc/ri' }), other.consumeBootstrapToken('4'.repeat(64), now)]);
      const ids = revoked.map((t) => t.id).sort();
      assert.deepEqual(consumed ? ids : ids.filter((id) => id !== 'ri-1'), ['ri-2'], 'ri-1 was revoked or consumed, not both');
      assert.equal(consumed !== undefined, !ids.includes('ri-1'));
      assert.ok(await repo.findBootstrapToken('6'.repeat(64), now), 'another identity\'s token stays');
    });

    it('refuses an expired bootstrap token and an unknown one', async () => {
      const now = new Date();
      await repo.insertBootstrapToken({ id: 'tok2', tokenHash: 'e'.repeat(64), spiffeId: 'spiffe://td/svc/a', dnsNames: [], ipAddresses: [], createdAt: now, expiresAt: new Date(now.getTime() + 1000), usedAt: null });
      assert.equal(await repo.consumeBootstrapToken('e'.repeat(64), new Date(now.getTime() + 1000)), undefined);
      assert.equal(await repo.consumeBootstrapToken('0'.repeat(64), now), undefined);
    });
  });
}

/**
 * Renewal lineage (`renewedFrom`), which revocation by serial follows. Registered for every
 * backend that keeps it; the SQL repository joins once it maps `renewed_from`.
 */
export function registerPkiLineageContract(backend: PkiBackend, skip: false | string = false): void {
  describe(`PKI repository lineage contract (${backend.name})`, { skip }, () => {
    let repo: PkiRepository;
    let close: () => Promise<void>;
    before(async () => { ({ repo, close } = await backend.create()); });
    after(async () => { await close?.(); });

    it('keeps the serial a certificate was renewed from and lists the direct renewals of a serial', async () => {
      const later = new Date(Date.now() + HOUR);
      await repo.insertCertificate({ ...cert('r1', 'spiffe://td/svc/r', later), renewedFrom: null });
      await repo.insertCertificate({ ...cert('r2', 'spiffe://td/svc/r', later), issuedVia: 'renewal', renewedFrom: 'r1' });
      await repo.insertCertificate({ ...cert('r3', 'spiffe://td/svc/r', later), issuedVia: 'renewal', renewedFrom: 'r2' });
      await repo.insertCertificate({ ...cert('r4', 'spiffe://td/svc/r', later), issuedVia: 'renewal', renewedFrom: 'r1' });
      assert.equal((await repo.getCertificate('r1'))?.renewedFrom, null);
      assert.equal((await repo.getCertificate('r3'))?.renewedFrom, 'r2');
      assert.deepEqual((await repo.listCertificates({ renewedFrom: 'r1' })).map((c) => c.serial).sort(), ['r2', 'r4']);
      assert.deepEqual((await repo.listCertificates({ renewedFrom: 'r3' })).map((c) => c.serial), []);
    });
  });
}
